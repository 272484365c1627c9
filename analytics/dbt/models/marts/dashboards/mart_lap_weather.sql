{{ config(**session_incremental('dashboard_version', 'laps_rows > 0 and weather_rows > 0')) }}

-- Every lap with the weather at the moment it ended: the latest weather sample at or before the
-- lap's end (session time), or the first sample when the lap ended before any. Incremental by
-- session (macros/incremental.sql).
with

changed_sessions as (

    {{ sessions_to_build('dashboard_version', 'laps_rows > 0 and weather_rows > 0') }}

),

laps as (

    select fct_laps.*, changed_sessions.input_version
    from {{ ref('fct_laps') }} as fct_laps
    inner join changed_sessions on fct_laps.session_key = changed_sessions.session_key
    where fct_laps.lap_end_session_time_ms is not null

),

weather as (

    select fct_weather.*
    from {{ ref('fct_weather') }} as fct_weather
    inner join changed_sessions on fct_weather.session_key = changed_sessions.session_key

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

weather_intervals as (

    select
        session_key,
        sample_time_ms,
        case
            when row_number() over (partition by session_key order by sample_time_ms) = 1 then -1
            else sample_time_ms
        end as valid_from_ms,
        lead(sample_time_ms) over (partition by session_key order by sample_time_ms) as valid_to_ms,
        track_temp_c,
        air_temp_c,
        humidity_pct,
        is_raining
    from weather

),

final as (

    select
        laps.season,
        laps.round,
        laps.session,
        sessions.event_name,
        laps.driver_code as driver,
        laps.driver_number,
        laps.lap_number,
        laps.lap_time_ms,
        laps.compound,
        laps.is_pit_in or laps.is_pit_out as is_pit_lap,
        laps.is_accurate,
        weather_intervals.track_temp_c,
        weather_intervals.air_temp_c,
        weather_intervals.humidity_pct,
        weather_intervals.is_raining as rainfall,
        laps.session_key,
        laps.input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id
    from laps
    inner join sessions on laps.session_key = sessions.session_key
    inner join weather_intervals
        on laps.session_key = weather_intervals.session_key
        and laps.lap_end_session_time_ms >= weather_intervals.valid_from_ms
        and (weather_intervals.valid_to_ms is null or laps.lap_end_session_time_ms < weather_intervals.valid_to_ms)

)

select * from final
