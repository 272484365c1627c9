{{ config(**session_incremental('dashboard_version', 'is_race_like and laps_rows > 0')) }}

-- Every lap of every race and sprint against the driver's own recent pace: the median of the driver's previous
-- var('pace_baseline_clean_laps') clean laps of the session (clean: macros/lap_pace.sql, via fct_laps), as
-- timed and after fuel correction. The pace-change alert rule (dashboards, alerts.py) reads this mart; it also
-- skips laps on which the driver was shown blue flags (being lapped costs time) and restart laps. Every row is a
-- function of its session's laps, race control and event: incremental by session (macros/incremental.sql).
with

changed_sessions as (

    {{ sessions_to_build('dashboard_version', 'is_race_like and laps_rows > 0') }}

),

laps as (

    select fct_laps.*, changed_sessions.input_version
    from {{ ref('fct_laps') }} as fct_laps
    inner join changed_sessions on fct_laps.session_key = changed_sessions.session_key

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

blue_flags as (

    select race_control.session_key, race_control.driver_number, race_control.message_utc
    from {{ ref('fct_race_control') }} as race_control
    inner join changed_sessions on race_control.session_key = changed_sessions.session_key
    where race_control.flag = 'BLUE' and race_control.driver_number is not null

),

blue_flagged_laps as (

    select distinct laps.lap_id
    from laps
    inner join blue_flags
        on laps.session_key = blue_flags.session_key
        and laps.driver_number = blue_flags.driver_number
        and blue_flags.message_utc > laps.lap_start_utc
        and blue_flags.message_utc <= laps.lap_end_utc

),

counted as (

    -- how many clean laps the driver had completed before this lap
    select
        laps.*,
        coalesce(sum(case when laps.is_clean_lap then 1 else 0 end) over (
            partition by laps.session_key, laps.driver_number
            order by laps.lap_number
            rows between unbounded preceding and 1 preceding
        ), 0) as clean_laps_before,
        -- the previous lap ran (partly) under a safety car, VSC or red flag: this one is a restart
        coalesce(lag(
            laps.track_status like '%4%' or laps.track_status like '%5%'
            or laps.track_status like '%6%' or laps.track_status like '%7%'
        ) over (partition by laps.session_key, laps.driver_number order by laps.lap_number), false) as is_restart_lap
    from laps

),

clean_laps as (

    select
        session_key,
        driver_number,
        lap_time_ms,
        fuel_corrected_lap_time_ms,
        row_number() over (partition by session_key, driver_number order by lap_number) as clean_lap_index
    from laps
    where is_clean_lap

),

baselines as (

    -- the window: the driver's last N clean laps before this one (Snowflake's MEDIAN takes no window frame,
    -- hence the join)
    select
        counted.lap_id,
        count(*) as baseline_laps,
        median(clean_laps.lap_time_ms) as baseline_lap_time_ms,
        median(clean_laps.fuel_corrected_lap_time_ms) as baseline_fuel_corrected_ms
    from counted
    inner join clean_laps
        on counted.session_key = clean_laps.session_key
        and counted.driver_number = clean_laps.driver_number
        and clean_laps.clean_lap_index > counted.clean_laps_before - {{ var('pace_baseline_clean_laps') | int }}
        and clean_laps.clean_lap_index <= counted.clean_laps_before
    group by counted.lap_id
    having count(*) = {{ var('pace_baseline_clean_laps') | int }}

),

final as (

    select
        -- ids
        counted.lap_id,
        counted.session_key,
        counted.season,
        counted.round,
        counted.session,
        sessions.event_name,
        counted.driver_number,
        counted.driver_code as driver,
        counted.team_name,
        counted.lap_number,

        -- strings
        counted.track_status,
        counted.compound,

        -- numerics
        counted.stint,
        counted.lap_time_ms,
        counted.fuel_corrected_lap_time_ms,
        baselines.baseline_laps,
        baselines.baseline_lap_time_ms,
        baselines.baseline_fuel_corrected_ms,
        counted.lap_time_ms - baselines.baseline_lap_time_ms as delta_ms,
        counted.fuel_corrected_lap_time_ms - baselines.baseline_fuel_corrected_ms as fuel_corrected_delta_ms,

        -- booleans
        counted.is_clean_lap,
        counted.is_pit_in,
        counted.is_pit_out,
        blue_flagged_laps.lap_id is not null as is_blue_flagged,
        counted.is_restart_lap,

        -- timestamps
        counted.lap_end_utc,

        -- the build
        counted.input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id

    from counted
    inner join sessions on counted.session_key = sessions.session_key
    left join baselines on counted.lap_id = baselines.lap_id
    left join blue_flagged_laps on counted.lap_id = blue_flagged_laps.lap_id

)

select * from final
