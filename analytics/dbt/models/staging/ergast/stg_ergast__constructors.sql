with

source as (

    select * from {{ source('ergast', 'ergast_constructors_staging') }}
    {{ latest_load_only(['constructor_id']) }}

),

renamed as (

    select
        -- ids
        cast(constructor_id as integer) as constructor_id,
        constructor_ref,

        -- strings
        name as constructor_name,
        nationality,
        url as wikipedia_url,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at

    from source

)

select * from renamed
