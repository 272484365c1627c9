-- Each driver's laps in a session are numbered 1..N without gaps or repeats. Returns the offenders.
select
    session_key,
    driver_number,
    min(lap_number) as first_lap,
    max(lap_number) as last_lap,
    count(*) as laps,
    count(distinct lap_number) as distinct_laps
from {{ ref('fct_laps') }}
group by session_key, driver_number
having min(lap_number) <> 1
    or max(lap_number) <> count(*)
    or count(distinct lap_number) <> count(*)
