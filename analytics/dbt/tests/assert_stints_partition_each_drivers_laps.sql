-- A driver's stints cover the laps with a stint number once each and follow each other without overlap.
-- Returns the offending stints.
with

stints as (

    select
        session_key,
        driver_number,
        stint,
        first_lap,
        last_lap,
        laps,
        lag(last_lap) over (partition by session_key, driver_number order by stint) as previous_last_lap
    from {{ ref('fct_stints') }}

),

laps as (

    select session_key, driver_number, stint, count(*) as laps
    from {{ ref('fct_laps') }}
    where stint is not null
    group by session_key, driver_number, stint

)

select stints.*, laps.laps as laps_in_fct_laps
from stints
left join laps
    on stints.session_key = laps.session_key
    and stints.driver_number = laps.driver_number
    and stints.stint = laps.stint
where laps.laps is null
    or laps.laps <> stints.laps
    or stints.first_lap > stints.last_lap
    or stints.first_lap <= stints.previous_last_lap
