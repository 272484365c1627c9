-- Every classified finisher (took the chequered flag: Finished, Lapped or +N Lap(s)) of a race or
-- sprint with FastF1 timing has as many laps in fct_laps as the classification says they completed.
-- Classified drivers who stopped on the last laps are excluded: FastF1 keeps a row for the lap they
-- did not complete. Returns the mismatches.
with

results as (

    select * from {{ ref('fct_race_results') }}
    where is_classified
        and laps is not null
        and (status in ('Finished', 'Lapped') or status like '+%')

),

lap_counts as (

    select session_key, driver_id, count(*) as timed_laps
    from {{ ref('fct_laps') }}
    group by session_key, driver_id

),

timed_sessions as (

    select distinct session_key from {{ ref('fct_laps') }}

)

select
    results.session_key,
    results.driver_id,
    results.laps as laps_in_results,
    coalesce(lap_counts.timed_laps, 0) as laps_in_fct_laps
from results
inner join timed_sessions on results.session_key = timed_sessions.session_key
left join lap_counts
    on results.session_key = lap_counts.session_key
    and results.driver_id = lap_counts.driver_id
where coalesce(lap_counts.timed_laps, 0) <> results.laps
