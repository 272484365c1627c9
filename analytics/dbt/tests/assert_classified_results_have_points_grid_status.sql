-- Points, grid and status are never null for a classified driver when either source has them.
-- Ergast always records all three, so a classified result with an Ergast row must have all three;
-- without one, FastF1's values must have come through whenever FastF1 has them.
with

results as (

    select * from {{ ref('fct_race_results') }}
    where is_classified

),

fastf1 as (

    select * from {{ ref('int_fastf1__race_results') }}

)

select results.result_id, results.points, results.grid, results.status
from results
left join fastf1
    on results.session_key = fastf1.session_key
    and results.driver_id = fastf1.driver_ref
where
    (results.has_ergast_result and (results.points is null or results.grid is null or results.status is null))
    or (results.points is null and fastf1.points is not null)
    or (results.grid is null and fastf1.grid is not null)
    or (results.status is null and fastf1.status is not null)
