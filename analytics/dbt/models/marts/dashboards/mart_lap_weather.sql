-- Every lap with the weather at the moment it ended: the latest weather sample at or before the
-- lap's end (session time), or the first sample when the lap ended before any.
with

laps as (

    select * from {{ ref('fct_laps') }}
    where lap_end_session_time_ms is not null

),

weather as (

    select * from {{ ref('fct_weather') }}

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
        weather_intervals.is_raining as rainfall
    from laps
    inner join sessions on laps.session_key = sessions.session_key
    inner join weather_intervals
        on laps.session_key = weather_intervals.session_key
        and laps.lap_end_session_time_ms >= weather_intervals.valid_from_ms
        and (weather_intervals.valid_to_ms is null or laps.lap_end_session_time_ms < weather_intervals.valid_to_ms)

)

select * from final
