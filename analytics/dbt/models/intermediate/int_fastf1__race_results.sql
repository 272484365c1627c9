-- FastF1 classifications of the points-scoring sessions (Race, Sprint) with Ergast references.
with

results as (

    select * from {{ ref('stg_fastf1__results') }}
    where {{ is_race_like('session') }}

),

session_drivers as (

    select * from {{ ref('int_fastf1__session_drivers') }}

),

joined as (

    select
        results.session_key,
        results.season,
        results.round,
        results.session,
        results.driver_number,
        session_drivers.driver_ref,
        session_drivers.driver_code,
        session_drivers.driver_name,
        session_drivers.constructor_ref,
        session_drivers.team_name,
        results.position,
        results.classified_position,
        results.grid,
        results.status,
        results.points,
        results.laps,
        results.time_ms,
        results._loaded_at,
        results._run_id
    from results
    left join session_drivers
        on results.session_key = session_drivers.session_key
        and results.driver_number = session_drivers.driver_number

)

select * from joined
