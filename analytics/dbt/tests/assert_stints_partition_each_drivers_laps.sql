-- A driver's stints cover every lap of the driver once, in order: consecutive runs of laps, the first from the
-- driver's first lap and each later one from a pit-out lap. Returns the offending stints.
with

stints as (

    select
        session_key,
        driver_number,
        stint,
        first_lap,
        last_lap,
        laps,
        pit_out_lap,
        lag(last_lap) over (partition by session_key, driver_number order by stint) as previous_last_lap,
        sum(laps) over (partition by session_key, driver_number) as driver_stint_laps
    from {{ ref('fct_stints') }}

),

driver_laps as (

    select session_key, driver_number, min(lap_number) as first_lap, count(*) as laps
    from {{ ref('fct_laps') }}
    group by session_key, driver_number

)

select stints.*
from stints
inner join driver_laps
    on stints.session_key = driver_laps.session_key
    and stints.driver_number = driver_laps.driver_number
where stints.laps <> stints.last_lap - stints.first_lap + 1
    or stints.driver_stint_laps <> driver_laps.laps
    or (stints.stint = 1 and stints.first_lap <> driver_laps.first_lap)
    or (stints.stint > 1 and (stints.first_lap <> stints.previous_last_lap + 1 or stints.pit_out_lap is null))
