{%- set countback = var('standings_countback_positions', 40) -%}
-- Drivers' championship after every round: that round's points (Grand Prix + sprint), the season
-- total so far, Grand Prix wins so far, and the position. Ties on points are broken the official
-- way: most Grand Prix wins, then most second places, and so on (countback over positions
-- 1..{{ countback }}); drivers still level share the position. Drivers appear from their first round.
with

results as (

    select * from {{ ref('int_championship__results') }}

),

rounds as (

    select season, round, max(event_name) as event_name
    from results
    group by season, round

),

driver_rounds as (

    select
        season,
        round,
        driver_id,
        sum(points) as points,
        {% for k in range(1, countback + 1) -%}
        sum(case when session = 'R' and position = {{ k }} then 1 else 0 end) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from results
    group by season, round, driver_id

),

driver_labels as (

    -- the driver's code, name and team at their latest result up to each round
    select
        rounds.season,
        rounds.round,
        results.driver_id,
        results.driver_code,
        results.driver_name,
        results.team_name
    from rounds
    inner join results
        on rounds.season = results.season
        and results.round <= rounds.round
    qualify row_number() over (
        partition by rounds.season, rounds.round, results.driver_id
        order by results.round desc, case results.session when 'R' then 0 else 1 end
    ) = 1

),

filled as (

    select
        driver_labels.season,
        driver_labels.round,
        driver_labels.driver_id,
        driver_labels.driver_code,
        driver_labels.driver_name,
        driver_labels.team_name,
        coalesce(driver_rounds.points, 0) as points,
        {% for k in range(1, countback + 1) -%}
        coalesce(driver_rounds.finishes_p{{ k }}, 0) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from driver_labels
    left join driver_rounds
        on driver_labels.season = driver_rounds.season
        and driver_labels.round = driver_rounds.round
        and driver_labels.driver_id = driver_rounds.driver_id

),

{{ championship_ranking('filled', 'driver_id', ['driver_code', 'driver_name', 'team_name'], countback) }},

final as (

    select
        ranked.season,
        ranked.round,
        rounds.event_name,
        ranked.driver_id,
        ranked.driver_code,
        ranked.driver_name,
        ranked.team_name,
        ranked.points,
        ranked.cumulative_points,
        ranked.total_p1 as wins,
        ranked.total_p2 as second_places,
        ranked.total_p3 as third_places,
        ranked.position
    from ranked
    inner join rounds
        on ranked.season = rounds.season
        and ranked.round = rounds.round

)

select * from final
