-- Each championship decision names a driver or constructor with results in its season and a round
-- of that season (a typo would silently apply to no one).
with

adjustments as (

    select * from {{ ref('championship_adjustments') }}

),

results as (

    select * from {{ ref('int_championship__results') }}

),

competitors as (

    select distinct season, 'drivers' as championship, driver_id as competitor_id, max(round) over (partition by season) as last_round
    from results
    union
    select distinct season, 'constructors' as championship, constructor_id as competitor_id, max(round) over (partition by season) as last_round
    from results

)

select adjustments.season, adjustments.championship, adjustments.competitor_id, adjustments.from_round
from adjustments
left join competitors
    on adjustments.season = competitors.season
    and adjustments.championship = competitors.championship
    and adjustments.competitor_id = competitors.competitor_id
where competitors.competitor_id is null or adjustments.from_round not between 1 and competitors.last_round
