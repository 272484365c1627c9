{{ config(**session_incremental('standings_version', grain='season')) }}
{%- set countback = var('standings_countback_positions', 33) -%}
-- The constructors' championship (awarded from 1958) after every round, computed from the results
-- and the season's regulations (seeds championship_*): before 1979 only a team's best-placed car
-- scores in a race, and only the best N results count; exclusions and deductions applied. Points
-- scored and counted, the position (null when unranked, with the reason), Grand Prix wins and the
-- countback that separated constructors level on points (every car's places count).
with

seasons_to_build as (

    {{ seasons_to_build('standings_version') }}

),

constructor_rounds as (

    select constructor_rounds.*
    from {{ ref('int_championship__constructor_rounds') }} as constructor_rounds
    inner join seasons_to_build on constructor_rounds.season = seasons_to_build.season

),

awarded_seasons as (

    select season from {{ ref('championship_regulations') }}
    where championship = 'constructors' and is_awarded

),

season_rounds as (

    select results.season, results.round, max(results.event_name) as event_name
    from {{ ref('int_championship__results') }} as results
    inner join awarded_seasons on results.season = awarded_seasons.season
    inner join seasons_to_build on results.season = seasons_to_build.season
    group by results.season, results.round

),

{{ championship_standings('constructor_rounds', 'season_rounds', 'constructor_id', 'constructors',
                          ['team_name'], countback) }},

final as (

    select
        season,
        round,
        event_name,
        constructor_id,
        team_name,
        round_points as points,
        points_counted as cumulative_points,
        points_scored,
        wins,
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
