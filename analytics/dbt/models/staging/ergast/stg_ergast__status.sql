with

source as (

    {{ current_run_rows('ergast_status_staging') }}

),

renamed as (

    select
        -- ids
        cast(status_id as integer) as status_id,

        -- strings
        status,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
