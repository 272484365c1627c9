with

source as (

    {{ current_run_rows('ergast_constructors_staging') }}

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
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
