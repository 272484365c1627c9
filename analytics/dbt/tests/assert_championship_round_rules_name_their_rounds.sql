-- Each round rule names the round it applies to: the event of that season's round is the one the
-- rule was written for (a wrong round number would silently score another race).
with

round_rules as (

    select * from {{ ref('championship_round_rules') }}

),

races as (

    select * from {{ ref('stg_ergast__races') }}

)

select round_rules.season, round_rules.round, round_rules.event_name, races.event_name
from round_rules
left join races
    on round_rules.season = races.season
    and round_rules.round = races.round
where races.event_name is null or races.event_name <> round_rules.event_name
