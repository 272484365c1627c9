-- Per session: median representative lap time (accurate, not deleted, no pit in/out) against the
-- session's average temperatures and the share of weather samples with rainfall.
with

laps as (

    select * from {{ ref('fct_laps') }}

),

weather as (

    select * from {{ ref('fct_weather') }}

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

    select
        session_key,
        avg(track_temp_c) as avg_track_temp_c,
        avg(air_temp_c) as avg_air_temp_c,
        avg(case when is_raining then 1.0 else 0.0 end) as rain_fraction,
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
        conditions.weather_samples
    from pace
    inner join sessions on pace.session_key = sessions.session_key
    left join conditions on pace.session_key = conditions.session_key

)

select * from final
