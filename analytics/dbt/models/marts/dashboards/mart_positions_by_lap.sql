{{ config(**session_incremental('dashboard_version', 'laps_rows > 0')) }}

-- Every driver's position, lap time and gap to the leader at the end of every lap, for the
-- dashboards' race-trace and position-chart panels. Incremental by session (macros/incremental.sql).
with

changed_sessions as (

    {{ sessions_to_build('dashboard_version', 'laps_rows > 0') }}

),

laps as (

    select fct_laps.*, changed_sessions.input_version
    from {{ ref('fct_laps') }} as fct_laps
    inner join changed_sessions on fct_laps.session_key = changed_sessions.session_key

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

session_drivers as (

    select * from {{ ref('int_fastf1__session_drivers') }}

),

final as (

    select
        laps.season,
        laps.round,
        laps.session,
        sessions.event_name,
        laps.driver_number,
        laps.driver_code as driver,
        laps.driver_id,
        coalesce(session_drivers.team_name, laps.team_name) as team_name,
        session_drivers.team_colour,
        laps.lap_number,
        laps.position,
        laps.lap_time_ms,
        laps.gap_to_leader_ms,
        laps.is_pit_in,
        laps.is_pit_out,
        laps.track_status,
        laps.lap_end_utc,
        laps.session_key,
        laps.input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id
    from laps
    inner join sessions on laps.session_key = sessions.session_key
    left join session_drivers
        on laps.session_key = session_drivers.session_key
        and laps.driver_number = session_drivers.driver_number

)

select * from final
