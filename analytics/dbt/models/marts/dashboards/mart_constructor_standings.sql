{%- set countback = var('standings_countback_positions', 40) -%}
-- Constructors' championship (from 1958, its first season) after every round: points of all the
-- team's cars in that round (Grand Prix + sprint), the season total so far, Grand Prix wins so far
-- and the position, ties broken by countback over the team's Grand Prix finishing positions
-- (most wins, then most second places, ...). Points are the sum of the drivers' points.
with

results as (

    select * from {{ ref('int_championship__results') }}
    where season >= 1958 and constructor_id is not null

),

rounds as (

    select season, round, max(event_name) as event_name
    from results
    group by season, round

),

constructor_rounds as (

    select
        season,
        round,
        constructor_id,
        sum(points) as points,
        {% for k in range(1, countback + 1) -%}
        sum(case when session = 'R' and position = {{ k }} then 1 else 0 end) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from results
    group by season, round, constructor_id

),

constructor_labels as (

    select
        rounds.season,
        rounds.round,
        results.constructor_id,
        results.team_name
    from rounds
    inner join results
        on rounds.season = results.season
        and results.round <= rounds.round
    qualify row_number() over (
        partition by rounds.season, rounds.round, results.constructor_id
        order by results.round desc, case results.session when 'R' then 0 else 1 end, results.team_name
    ) = 1

),

filled as (

    select
        constructor_labels.season,
        constructor_labels.round,
        constructor_labels.constructor_id,
        constructor_labels.team_name,
        coalesce(constructor_rounds.points, 0) as points,
        {% for k in range(1, countback + 1) -%}
        coalesce(constructor_rounds.finishes_p{{ k }}, 0) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from constructor_labels
    left join constructor_rounds
        on constructor_labels.season = constructor_rounds.season
        and constructor_labels.round = constructor_rounds.round
        and constructor_labels.constructor_id = constructor_rounds.constructor_id

),

{{ championship_ranking('filled', 'constructor_id', ['team_name'], countback) }},

final as (

    select
        ranked.season,
        ranked.round,
        rounds.event_name,
        ranked.constructor_id,
        ranked.team_name,
        ranked.points,
        ranked.cumulative_points,
        ranked.total_p1 as wins,
        ranked.position
    from ranked
    inner join rounds
        on ranked.season = rounds.season
        and ranked.round = rounds.round

)

select * from final
