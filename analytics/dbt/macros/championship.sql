{#
    The championship table after every round, for drivers or constructors alike, under each
    season's regulations (seeds championship_regulations, championship_adjustments). Emits CTEs
    ending in `standings`, one row per season, round and competitor from its first result on:

    - points_scored: the season's points so far; points_counted: those the regulations count (the
      best N results, per half season where the season is split; deductions applied; none after an
      exclusion that removed the points; from a restart on, only the new entry's);
    - position: rank on counted points, ties broken by countback over Grand Prix places (most wins,
      then most second places, ... over places 1..countback); entries still level share the
      position (the regulations leave such ties to the FIA); null for an unranked entry, with
      unranked_reason;
    - level_on_points / countback_place / shares_position: whether an entry is level on points with
      another, the place whose count separated it from the entry it was level with (1 = wins), and
      whether nothing separated it.

    `competitor_rounds` has one row per season, round and competitor with an entry: points,
    is_classified, has_result, finishes_p1 .. finishes_p<countback> (Grand Prix places) and the
    `labels`; `season_rounds` one row
    per season and round (season, round, event_name). Everything is computed within a season, from
    that season's rounds only.
#}
{% macro championship_standings(competitor_rounds, season_rounds, competitor, championship, labels, countback) -%}
regulations as (

    select * from {{ ref('championship_regulations') }}
    where championship = '{{ championship }}'

),

adjustments as (

    select * from {{ ref('championship_adjustments') }}
    where championship = '{{ championship }}'

),

exclusions as (

    select distinct season, competitor_id from adjustments where adjustment = 'exclusion'

),

restarts as (

    select season, competitor_id, max(from_round) as counts_from_round
    from adjustments
    where adjustment = 'restart'
    group by season, competitor_id

),

first_rounds as (

    -- a competitor enters the table with its first result (a disqualification is none); an excluded
    -- one with its first entry
    select competitor_rounds.season, competitor_rounds.{{ competitor }}, min(competitor_rounds.round) as first_round
    from {{ competitor_rounds }} as competitor_rounds
    left join exclusions
        on competitor_rounds.season = exclusions.season
        and competitor_rounds.{{ competitor }} = exclusions.competitor_id
    where competitor_rounds.has_result or exclusions.competitor_id is not null
    group by competitor_rounds.season, competitor_rounds.{{ competitor }}

),

entries as (

    -- every competitor after every round of the season from its first round on, with that round's result
    select
        {{ season_rounds }}.season,
        {{ season_rounds }}.round,
        {{ season_rounds }}.event_name,
        first_rounds.{{ competitor }},
        coalesce(results.points, 0) as round_points,
        case when results.is_classified then 1 else 0 end as classified_result,
        case when results.round is not null then {{ season_rounds }}.round end as result_round,
        {% for k in range(1, countback + 1) -%}
        coalesce(results.finishes_p{{ k }}, 0) as finishes_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from {{ season_rounds }}
    inner join first_rounds
        on {{ season_rounds }}.season = first_rounds.season
        and first_rounds.first_round <= {{ season_rounds }}.round
    left join {{ competitor_rounds }} as results
        on {{ season_rounds }}.season = results.season
        and {{ season_rounds }}.round = results.round
        and first_rounds.{{ competitor }} = results.{{ competitor }}

),

cumulative as (

    -- the season so far: points scored, classified results, and every place's count (the countback)
    select
        season,
        round,
        event_name,
        {{ competitor }},
        round_points,
        sum(round_points) over (
            partition by season, {{ competitor }} order by round rows between unbounded preceding and current row
        ) as points_scored,
        sum(classified_result) over (
            partition by season, {{ competitor }} order by round rows between unbounded preceding and current row
        ) as classified_results,
        max(result_round) over (
            partition by season, {{ competitor }} order by round rows between unbounded preceding and current row
        ) as latest_result_round,
        {% for k in range(1, countback + 1) -%}
        sum(finishes_p{{ k }}) over (
            partition by season, {{ competitor }} order by round rows between unbounded preceding and current row
        ) as total_p{{ k }}{{ "," if not loop.last }}
        {% endfor %}
    from entries

),

history as (

    -- for the seasons where only some results count (the best N, per half season when split) or a
    -- restart voids earlier ones: each entry with its scoring rounds so far, ranked by points
    select
        entries.season,
        entries.round,
        entries.{{ competitor }},
        results.points,
        restarts.counts_from_round is null or results.round >= restarts.counts_from_round as counts,
        case
            when regulations.split_after_round is null or results.round <= regulations.split_after_round
                then regulations.best_results
            else regulations.best_results_after_split
        end as best_results,
        row_number() over (
            partition by
                entries.season,
                entries.round,
                entries.{{ competitor }},
                restarts.counts_from_round is null or results.round >= restarts.counts_from_round,
                regulations.split_after_round is not null and results.round > regulations.split_after_round
            order by results.points desc, results.round
        ) as result_rank
    from entries
    inner join regulations on entries.season = regulations.season
    left join restarts
        on entries.season = restarts.season
        and entries.{{ competitor }} = restarts.competitor_id
        and restarts.counts_from_round <= entries.round
    inner join {{ competitor_rounds }} as results
        on entries.season = results.season
        and entries.{{ competitor }} = results.{{ competitor }}
        and results.round <= entries.round
        and results.points > 0
    where regulations.best_results is not null
        or regulations.best_results_after_split is not null
        or restarts.counts_from_round is not null

),

counted as (

    select
        season,
        round,
        {{ competitor }},
        sum(case when counts and (best_results is null or result_rank <= best_results) then points else 0 end)
            as points_counted
    from history
    group by season, round, {{ competitor }}

),

decisions as (

    select
        entries.season,
        entries.round,
        entries.{{ competitor }},
        max(case when adjustments.adjustment = 'exclusion' then 1 else 0 end) = 1 as is_excluded,
        max(case when adjustments.adjustment = 'exclusion' and adjustments.removes_all_points then 1 else 0 end) = 1
            as points_removed,
        coalesce(sum(case when adjustments.adjustment = 'deduction' then adjustments.points_deducted end), 0)
            as points_deducted,
        max(case when adjustments.adjustment = 'exclusion' then adjustments.reason end) as exclusion_reason
    from entries
    inner join adjustments
        on entries.season = adjustments.season
        and entries.{{ competitor }} = adjustments.competitor_id
        and adjustments.from_round <= entries.round
    group by entries.season, entries.round, entries.{{ competitor }}

),

eligible as (

    select
        cumulative.season,
        cumulative.round,
        cumulative.event_name,
        cumulative.{{ competitor }},
        {% for label in labels -%}
        latest.{{ label }},
        {% endfor -%}
        cumulative.round_points,
        cumulative.points_scored,
        case
            when decisions.points_removed then 0
            when regulations.best_results is null and regulations.best_results_after_split is null
                and restarts.counts_from_round is null
                then cumulative.points_scored - coalesce(decisions.points_deducted, 0)
            else coalesce(counted.points_counted, 0) - coalesce(decisions.points_deducted, 0)
        end as points_counted,
        case
            when decisions.is_excluded then 'excluded: ' || decisions.exclusion_reason
            when regulations.ranked_entries = 'classified_or_scored'
                and cumulative.points_scored <= 0 and cumulative.classified_results = 0
                then 'no points and no classified Grand Prix result'
        end as unranked_reason,
        cumulative.total_p1,
        cumulative.total_p2,
        cumulative.total_p3,
        -- the countback as a sortable key: each place's count in two digits, the wins first
        {% for k in range(1, countback + 1) -%}
        lpad(cast(cumulative.total_p{{ k }} as {{ dbt.type_string() }}), 2, '0')
            {{- " ||" if not loop.last }}
        {% endfor -%}
            as countback
    from cumulative
    inner join regulations on cumulative.season = regulations.season
    -- the labels of the latest round with a result
    inner join {{ competitor_rounds }} as latest
        on cumulative.season = latest.season
        and cumulative.latest_result_round = latest.round
        and cumulative.{{ competitor }} = latest.{{ competitor }}
    left join counted
        on cumulative.season = counted.season
        and cumulative.round = counted.round
        and cumulative.{{ competitor }} = counted.{{ competitor }}
    left join restarts
        on cumulative.season = restarts.season
        and cumulative.{{ competitor }} = restarts.competitor_id
        and restarts.counts_from_round <= cumulative.round
    left join decisions
        on cumulative.season = decisions.season
        and cumulative.round = decisions.round
        and cumulative.{{ competitor }} = decisions.{{ competitor }}

),

ranked as (

    select
        eligible.*,
        unranked_reason is null as is_ranked,
        case when unranked_reason is null then rank() over (
            partition by season, round, unranked_reason is null
            order by points_counted desc, countback desc
        ) end as position
    from eligible

),

neighbours as (

    -- the ranked entries directly ahead and behind, for the countback that separated them
    select
        ranked.*,
        count(*) over (partition by season, round, position) as entries_at_position,
        lag(points_counted) over (partition by season, round, is_ranked order by position, {{ competitor }}) as ahead_points,
        lead(points_counted) over (partition by season, round, is_ranked order by position, {{ competitor }}) as behind_points,
        lag(countback) over (partition by season, round, is_ranked order by position, {{ competitor }}) as ahead_countback,
        lead(countback) over (partition by season, round, is_ranked order by position, {{ competitor }}) as behind_countback
    from ranked

),

separated as (

    -- the first place whose count differs from the level entry ahead (else behind)
    select
        neighbours.*,
        case
            when not is_ranked or entries_at_position > 1 then null
            when ahead_points = points_counted then ahead_countback
            when behind_points = points_counted then behind_countback
        end as rival_countback
    from neighbours

),

standings as (

    select
        season,
        round,
        event_name,
        {{ competitor }},
        {% for label in labels -%}
        {{ label }},
        {% endfor -%}
        round_points,
        points_scored,
        points_counted,
        total_p1 as wins,
        total_p2 as second_places,
        total_p3 as third_places,
        position,
        is_ranked,
        unranked_reason,
        is_ranked and coalesce(ahead_points = points_counted or behind_points = points_counted, false) as level_on_points,
        case
            {% for k in range(1, countback + 1) -%}
            when substr(countback, {{ 2 * k - 1 }}, 2) <> substr(rival_countback, {{ 2 * k - 1 }}, 2) then {{ k }}
            {% endfor -%}
        end as countback_place,
        is_ranked and entries_at_position > 1 as shares_position
    from separated

)
{%- endmacro %}
