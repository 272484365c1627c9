{%- set countback = var('standings_countback_positions', 33) -%}
-- Each constructor's round in the constructors' championship (seasons that award it, rounds that
-- count for it): the points under the season's rule (all cars' points, or before 1979 the
-- best-placed car's), every car's Grand Prix place for the countback, whether a car was classified.
with

results as (

    select * from {{ ref('int_championship__results') }}
    where counts_for_constructors and constructor_id is not null

),

regulations as (

    select * from {{ ref('championship_regulations') }}
    where championship = 'constructors'

),

labels as (

    select season, round, constructor_id, team_name
    from results
    qualify row_number() over (
        partition by season, round, constructor_id
        order by case session when 'R' then 0 else 1 end, finish_order, team_name
    ) = 1

),

sessions as (

    -- a constructor's points of each session: every car's, or only the best-placed car's
    select
        results.season,
        results.round,
        results.session,
        results.constructor_id,
        case
            when max(regulations.scoring) = 'best_placed_car' then max(results.constructor_points)
            else sum(results.constructor_points)
        end as points,
        max(case when results.session = 'R' and results.is_classified then 1 else 0 end) = 1 as is_classified,
        max(case when results.is_disqualified then 0 else 1 end) = 1 as has_result,
        {% for k in range(1, countback + 1) -%}
        sum(case when results.session = 'R' and results.position = {{ k }} then 1 else 0 end) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from results
    inner join regulations on results.season = regulations.season
    group by results.season, results.round, results.session, results.constructor_id

),

rounds as (

    select
        season,
        round,
        constructor_id,
        sum(points) as points,
        max(case when is_classified then 1 else 0 end) = 1 as is_classified,
        max(case when has_result then 1 else 0 end) = 1 as has_result,
        {% for k in range(1, countback + 1) -%}
        sum(finishes_p{{ k }}) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from sessions
    group by season, round, constructor_id

),

final as (

    select
        rounds.season,
        rounds.round,
        rounds.constructor_id,
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
        and rounds.constructor_id = labels.constructor_id

)

select * from final
