with

circuits as (

    select * from {{ ref('stg_ergast__circuits') }}

),

final as (

    select
        circuit_ref as circuit_id,
        circuit_id as ergast_circuit_id,
        circuit_name,
        location,
        country,
        latitude,
        longitude,
        altitude_m,
        wikipedia_url
    from circuits

)

select * from final
