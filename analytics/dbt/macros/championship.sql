{#
    The championship table after every round, for drivers or constructors alike: two CTEs,
    `cumulative` (season totals so far of points and of finishes in each position) and `ranked`
    (the position, ties on points broken the official way: most wins, then most second places, and
    so on over positions 1..countback; competitors still level share the position).

    `from_relation` has one row per season, round and competitor with `points` and `finishes_p1` ..
    `finishes_p<countback>` for that round; `labels` are passed through.
#}
{% macro championship_ranking(from_relation, competitor, labels, countback) -%}
cumulative as (

    select
        season,
        round,
        {{ competitor }},
        {% for label in labels -%}
        {{ label }},
        {% endfor -%}
        points,
        sum(points) over (
            partition by season, {{ competitor }} order by round rows between unbounded preceding and current row
        ) as cumulative_points,
        {% for k in range(1, countback + 1) -%}
        sum(finishes_p{{ k }}) over (
            partition by season, {{ competitor }} order by round rows between unbounded preceding and current row
        ) as total_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ from_relation }}

),

ranked as (

    select
        cumulative.*,
        rank() over (
            partition by season, round
            order by
                cumulative_points desc,
                {% for k in range(1, countback + 1) -%}
                total_p{{ k }} desc{{ "," if not loop.last }}
                {% endfor %}
        ) as position
    from cumulative

)
{%- endmacro %}
