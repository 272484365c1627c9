{{ config(**session_incremental('dashboard_version', 'laps_rows > 0')) }}

-- Per session: median representative lap time (accurate, not deleted, no pit in/out) against the
-- session's average temperatures and the share of weather samples with rainfall. Incremental by
-- session (macros/incremental.sql).
with

changed_sessions as (

    {{ sessions_to_build('dashboard_version', 'laps_rows > 0') }}

),

laps as (

    select fct_laps.*
    from {{ ref('fct_laps') }} as fct_laps
    inner join changed_sessions on fct_laps.session_key = changed_sessions.session_key

),

weather as (

    select fct_weather.*
    from {{ ref('fct_weather') }} as fct_weather
    inner join changed_sessions on fct_weather.session_key = changed_sessions.session_key

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

pace as (

    select
        session_key,
        median(lap_time_ms) as median_lap_time_ms,
        count(*) as representative_laps
    from laps
    where lap_time_ms is not null
        and coalesce(is_accurate, false)
        and not is_deleted
        and not is_pit_in
        and not is_pit_out
    group by session_key

),

conditions as (

    -- rounded: a float sum depends on the order rows are read in, the mart must not
    select
        session_key,
        round(avg(track_temp_c), 6) as avg_track_temp_c,
        round(avg(air_temp_c), 6) as avg_air_temp_c,
        round(avg(case when is_raining then 1.0 else 0.0 end), 6) as rain_fraction,
        count(*) as weather_samples
    from weather
    group by session_key

),

final as (

    select
        sessions.season,
        sessions.round,
        sessions.session,
        sessions.event_name,
        pace.median_lap_time_ms,
        pace.representative_laps,
        conditions.avg_track_temp_c,
        conditions.avg_air_temp_c,
        conditions.rain_fraction,
        conditions.weather_samples,
        pace.session_key,
        changed_sessions.input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id
    from pace
    inner join changed_sessions on pace.session_key = changed_sessions.session_key
    inner join sessions on pace.session_key = sessions.session_key
    left join conditions on pace.session_key = conditions.session_key

)

select * from final
