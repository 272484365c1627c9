{%- set countback = var('standings_countback_positions', 33) -%}
-- The drivers' championship after every round of every season, computed from the results and the
-- season's regulations (seeds championship_*): points scored and counted (best-N and split-season
-- dropped scores), the position (null when unranked, with the reason), Grand Prix wins and the
-- countback that separated drivers level on points. A driver appears from their first round.
with

driver_rounds as (

    select * from {{ ref('int_championship__driver_rounds') }}

),

season_rounds as (

    select season, round, max(event_name) as event_name
    from {{ ref('int_championship__results') }}
    group by season, round

),

{{ championship_standings('driver_rounds', 'season_rounds', 'driver_id', 'drivers',
                          ['driver_code', 'driver_name', 'team_name'], countback) }},

final as (

    select
        season,
        round,
        event_name,
        driver_id,
        driver_code,
        driver_name,
        team_name,
        round_points as points,
        points_counted as cumulative_points,
        points_scored,
        wins,
        second_places,
        third_places,
        position,
        is_ranked,
        unranked_reason,
        level_on_points,
        countback_place,
        shares_position
    from standings

)

select * from final
