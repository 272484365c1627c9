{{ config(**session_incremental('standings_version', grain='season')) }}
{%- set countback = var('standings_countback_positions', 33) -%}
-- The drivers' championship after every round of every season, computed from the results and the
-- season's regulations (seeds championship_*): points scored and counted (best-N and split-season
-- dropped scores), the position (null when unranked, with the reason), Grand Prix wins and the
-- countback that separated drivers level on points. A driver appears from their first round.
with

seasons_to_build as (

    {{ seasons_to_build('standings_version') }}

),

driver_rounds as (

    select driver_rounds.*
    from {{ ref('int_championship__driver_rounds') }} as driver_rounds
    inner join seasons_to_build on driver_rounds.season = seasons_to_build.season

),

season_rounds as (

    select results.season, results.round, max(results.event_name) as event_name
    from {{ ref('int_championship__results') }} as results
    inner join seasons_to_build on results.season = seasons_to_build.season
    group by results.season, results.round

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
        shares_position,
        seasons_to_build.input_version as _input_version,
        '{{ invocation_id }}' as _dbt_invocation_id
    from standings
    inner join seasons_to_build using (season)

)

select * from final
