with

source as (

    select * from {{ source('ergast', 'ergast_status_staging') }}
    {{ latest_load_only(['status_id']) }}

),

renamed as (

    select
        -- ids
        cast(status_id as integer) as status_id,

        -- strings
        status,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at

    from source

)

select * from renamed
