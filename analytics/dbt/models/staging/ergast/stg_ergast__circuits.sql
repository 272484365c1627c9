with

source as (

    {{ current_run_rows('ergast_circuits_staging') }}

),

renamed as (

    select
        -- ids
        cast(circuit_id as integer) as circuit_id,
        circuit_ref,

        -- strings
        name as circuit_name,
        location,
        country,
        url as wikipedia_url,

        -- numerics
        lat as latitude,
        lng as longitude,
        cast(alt as integer) as altitude_m,

        -- timestamps
        {{ to_utc_timestamp('_load_time') }} as _loaded_at,
        _run_id

    from source

)

select * from renamed
