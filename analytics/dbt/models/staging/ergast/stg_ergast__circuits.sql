with

source as (

    select * from {{ source('ergast', 'ergast_circuits_staging') }}
    {{ latest_load_only(['circuit_id']) }}

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
        {{ to_utc_timestamp('_load_time') }} as _loaded_at

    from source

)

select * from renamed
