-- What each season's championship standings are a function of, as one version string per season: the
-- versions of its Grand Prix and sprint sessions (int_sessions__input_versions.dashboard_version: the
-- FastF1 run, the Ergast history, the season's schedule) and its regulations as data (the seeds
-- championship_regulations, _round_rules, _adjustments and the points scales they name). The standings
-- marts recompute exactly the seasons whose version changed (macros/incremental.sql, grain 'season'); the pit loss
-- by circuit, the seasons whose timed race-like sessions changed (pit_losses_version).
{%- set regulation_columns = ['championship', 'is_awarded', 'race_scale', 'sprint_scale', 'fastest_lap_points',
    'fastest_lap_condition', 'split_after_round', 'best_results', 'best_results_after_split', 'scoring',
    'shared_drive_points', 'shortened_race_rule', 'ranked_entries', 'tie_break'] %}
{%- set round_rule_columns = ['round', 'event_name', 'championship', 'counts', 'points_factor', 'race_scale'] %}
{%- set adjustment_columns = ['championship', 'competitor_id', 'from_round', 'adjustment', 'removes_all_points',
    'points_deducted'] %}
with

sessions as (

    select season, {{ dbt.hash(dbt.listagg("session_key || '=' || dashboard_version", "','",
                                           'order by session_key')) }} as sessions_version
    from {{ ref('int_sessions__input_versions') }}
    where is_race_like
    group by season

),

pit_loss_sessions as (

    -- the seasons' sessions with pit losses (fct_pit_losses: race-like, with FastF1 laps), for the marts that
    -- aggregate them by season (mart_pit_loss_by_circuit); a season without any has no pit_losses_version
    select season, {{ dbt.hash(dbt.listagg("session_key || '=' || dashboard_version", "','",
                                           'order by session_key')) }} as pit_losses_version
    from {{ ref('int_sessions__input_versions') }}
    where is_race_like and laps_rows > 0
    group by season

),

regulations as (

    select season, {{ rows_version(regulation_columns, 'championship') }} as regulations_version
    from {{ ref('championship_regulations') }}
    group by season

),

scales_used as (

    select distinct season, race_scale as scale from {{ ref('championship_regulations') }} where race_scale is not null
    union
    select distinct season, sprint_scale from {{ ref('championship_regulations') }} where sprint_scale is not null
    union
    select distinct season, race_scale from {{ ref('championship_round_rules') }} where race_scale is not null

),

scales as (

    select scales_used.season,
        {{ rows_version(['scales.scale', 'scales.position', 'scales.points'], 'scales.scale, scales.position') }}
            as scales_version
    from scales_used
    inner join {{ ref('championship_points_scales') }} as scales on scales_used.scale = scales.scale
    group by scales_used.season

),

round_rules as (

    select season, {{ rows_version(round_rule_columns, 'round, championship') }} as round_rules_version
    from {{ ref('championship_round_rules') }}
    group by season

),

adjustments as (

    select season, {{ rows_version(adjustment_columns, 'championship, competitor_id, from_round') }}
        as adjustments_version
    from {{ ref('championship_adjustments') }}
    group by season

),

final as (

    select
        sessions.season,
        sessions.sessions_version,
        sessions.sessions_version
            || '|' || coalesce(regulations.regulations_version, '-')
            || '|' || coalesce(scales.scales_version, '-')
            || '|' || coalesce(round_rules.round_rules_version, '-')
            || '|' || coalesce(adjustments.adjustments_version, '-') as standings_version,
        pit_loss_sessions.pit_losses_version
    from sessions
    left join pit_loss_sessions on sessions.season = pit_loss_sessions.season
    left join regulations on sessions.season = regulations.season
    left join scales on sessions.season = scales.season
    left join round_rules on sessions.season = round_rules.season
    left join adjustments on sessions.season = adjustments.season

)

select * from final
