-- Every season with results has its drivers' and constructors' regulations (the standings would
-- otherwise leave its results out), and every season row of the regulations names real scales.
with

seasons as (

    select distinct season from {{ ref('fct_race_results') }}

),

regulations as (

    select * from {{ ref('championship_regulations') }}

),

expected as (

    select seasons.season, championships.championship
    from seasons
    cross join (
        select 'drivers' as championship
        union all
        select 'constructors' as championship
    ) as championships

)

select expected.season, expected.championship, 'no regulations' as problem
from expected
left join regulations
    on expected.season = regulations.season
    and expected.championship = regulations.championship
where regulations.season is null

union all

select season, championship, 'awarded without a Grand Prix scale' as problem
from regulations
where is_awarded and race_scale is null
