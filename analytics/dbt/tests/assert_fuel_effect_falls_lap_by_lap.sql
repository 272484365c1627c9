-- The fuel model's effect (lap time - fuel-corrected lap time) is positive and falls strictly from each
-- lap to the next of a driver's race or sprint (the car burns fuel every lap), and there is none outside
-- races and sprints. Returns the offending laps.
with

effects as (

    select
        session_key,
        session,
        driver_number,
        lap_number,
        lap_time_ms - fuel_corrected_lap_time_ms as effect_ms,
        lead(lap_time_ms - fuel_corrected_lap_time_ms) over (
            partition by session_key, driver_number order by lap_number
        ) as next_effect_ms,
        lead(lap_number) over (partition by session_key, driver_number order by lap_number) as next_lap
    from {{ ref('fct_laps') }}
    where lap_time_ms is not null

)

select *
from effects
where ({{ is_race_like('session') }} and (effect_ms <= 0 or (next_lap is not null and next_effect_ms >= effect_ms)))
    or (not {{ is_race_like('session') }} and effect_ms is not null)
