{{ config(**session_incremental('identified_version', 'is_race_like and (laps_rows > 0 or has_ergast_pit_stops)')) }}

-- Pit stops in races and sprints, one row per driver and in-lap. FastF1 gives the pit-lane time
-- (pit entry on the in-lap to pit exit on the next lap) and the tyres; Ergast gives the stop number
-- and the stationary-to-exit duration. Joined on session, driver and lap; either side may be absent.
-- Incremental by session (macros/incremental.sql).
with

laps as (

    select * from {{ ref('fct_laps') }}
    where {{ is_race_like('session') }}

),

ergast_stops as (

    select * from {{ ref('stg_ergast__pit_stops') }}

),

races as (

    select * from {{ ref('stg_ergast__races') }}

),

ergast_drivers as (

    select * from {{ ref('stg_ergast__drivers') }}

),

changed_sessions as (

    {{ sessions_to_build('identified_version', 'is_race_like and (laps_rows > 0 or has_ergast_pit_stops)') }}

),

fastf1_stops as (

    select
        in_lap.session_key,
        in_lap.season,
        in_lap.round,
        in_lap.session,
        in_lap.driver_id,
        in_lap.driver_number,
        in_lap.constructor_id,
        in_lap.lap_number,
        in_lap.stint,
        in_lap.compound as compound_before,
        out_lap.compound as compound_after,
        in_lap.tyre_life as tyre_life_before,
        out_lap.pit_out_time_ms - in_lap.pit_in_time_ms as pit_lane_time_ms,
        in_lap._loaded_at,
        in_lap._run_id,
        changed_sessions.input_version
    from laps as in_lap
    inner join changed_sessions on in_lap.session_key = changed_sessions.session_key
    inner join laps as out_lap
        on in_lap.session_key = out_lap.session_key
        and in_lap.driver_number = out_lap.driver_number
        and in_lap.lap_number + 1 = out_lap.lap_number
    where in_lap.is_pit_in and out_lap.is_pit_out

),

ergast_session_stops as (

    select
        {{ session_key('races.season', 'races.round', "'R'") }} as session_key,
        races.season,
        races.round,
        'R' as session,
        ergast_drivers.driver_ref as driver_id,
        ergast_stops.lap_number,
        ergast_stops.stop_number,
        ergast_stops.duration_ms,
        ergast_stops._loaded_at,
        changed_sessions.input_version
    from ergast_stops
    inner join races on ergast_stops.race_id = races.race_id
    inner join ergast_drivers on ergast_stops.driver_id = ergast_drivers.driver_id
    inner join changed_sessions
        on {{ session_key('races.season', 'races.round', "'R'") }} = changed_sessions.session_key

),

joined as (

    select
        coalesce(f.session_key, e.session_key) as session_key,
        coalesce(f.season, e.season) as season,
        coalesce(f.round, e.round) as round,
        coalesce(f.session, e.session) as session,
        coalesce(f.driver_id, e.driver_id, 'car-' || f.driver_number) as driver_id,
        f.driver_number,
        f.constructor_id,
        coalesce(f.lap_number, e.lap_number) as lap_number,
        e.stop_number,
        f.stint,
        f.compound_before,
        f.compound_after,
        f.tyre_life_before,
        f.pit_lane_time_ms,
        e.duration_ms as ergast_duration_ms,
        f.session_key is not null as has_fastf1_timing,
        e.session_key is not null as has_ergast_stop,
        case
            when e._loaded_at is null then f._loaded_at
            when f._loaded_at is null then e._loaded_at
            when f._loaded_at > e._loaded_at then f._loaded_at
            else e._loaded_at
        end as _loaded_at,
        f._run_id,
        coalesce(f.input_version, e.input_version) as _input_version
    from fastf1_stops as f
    full outer join ergast_session_stops as e
        on f.session_key = e.session_key
        and f.driver_id = e.driver_id
        and f.lap_number = e.lap_number

),

final as (

    select
        session_key || '-' || driver_id || '-' || cast(lap_number as {{ dbt.type_string() }}) as pit_stop_id,
        *,
        '{{ invocation_id }}' as _dbt_invocation_id
    from joined

)

select * from final
