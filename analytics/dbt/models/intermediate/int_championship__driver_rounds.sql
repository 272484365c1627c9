{%- set countback = var('standings_countback_positions', 33) -%}
-- Each driver's round in the drivers' championship: the points scored (Grand Prix + sprint), the
-- Grand Prix place (the countback counts Grand Prix places only), whether the driver was
-- classified, and the labels of the round (code, name and team; the Grand Prix's team first).
with

results as (

    select * from {{ ref('int_championship__results') }}

),

labels as (

    select season, round, driver_id, driver_code, driver_name, team_name
    from results
    qualify row_number() over (
        partition by season, round, driver_id
        order by case session when 'R' then 0 else 1 end, case when is_additional_car then 1 else 0 end
    ) = 1

),

rounds as (

    select
        season,
        round,
        driver_id,
        sum(points) as points,
        max(case when session = 'R' and is_classified then 1 else 0 end) = 1 as is_classified,
        max(case when is_disqualified then 0 else 1 end) = 1 as has_result,
        {% for k in range(1, countback + 1) -%}
        sum(case when session = 'R' and position = {{ k }} then 1 else 0 end) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from results
    group by season, round, driver_id

),

final as (

    select
        rounds.season,
        rounds.round,
        rounds.driver_id,
        labels.driver_code,
        labels.driver_name,
        labels.team_name,
        rounds.points,
        rounds.is_classified,
        rounds.has_result,
        {% for k in range(1, countback + 1) -%}
        rounds.finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from rounds
    inner join labels
        on rounds.season = labels.season
        and rounds.round = labels.round
        and rounds.driver_id = labels.driver_id

)

select * from final
