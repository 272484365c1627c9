{#- Race pace, defined once: what a clean lap is and how much of a lap time is the fuel load.
    fct_laps applies both to every lap (`is_clean_lap`, `fuel_corrected_lap_time_ms`); fct_stints,
    fct_pit_stop_losses and anything else that compares pace (the pace-change alerts) read those columns
    instead of restating the rules. The fuel model's numbers are dbt vars (dbt_project.yml, with sources). -#}

{#- A lap that shows the car's pace: timed, FastF1's timing was consistent (IsAccurate), not the first lap
    (standing start), not a pit in- or out-lap, not deleted, and run under green flags only: FastF1's track
    status string lists every status seen during the lap ('1' green, '2' yellow, '4' safety car, '5' red flag,
    '6'/'7' virtual safety car), so a clean lap's status holds nothing but '1'. `laps` is the alias of a
    relation with fct_laps' column names. -#}
{% macro is_clean_lap(laps) -%}
    (
        {{ laps }}.lap_time_ms is not null
        and coalesce({{ laps }}.is_accurate, false)
        and {{ laps }}.lap_number > 1
        and not coalesce({{ laps }}.is_pit_in, false)
        and not coalesce({{ laps }}.is_pit_out, false)
        and not coalesce({{ laps }}.is_deleted, false)
        and {{ laps }}.track_status is not null
        and replace({{ laps }}.track_status, '1', '') = ''
    )
{%- endmacro %}

{#- The race fuel a car starts with (kg) in a season: the FIA's maximum race fuel mass in force that season
    (var `fuel_max_race_kg_from_season`: limit by the season it took effect), null before the first one. -#}
{% macro race_start_fuel_kg(season) -%}
    {%- set limits = var('fuel_max_race_kg_from_season') -%}
    case
        {%- for from_season, kg in limits | dictsort(reverse=true) %}
        when {{ season }} >= {{ from_season | int }} then {{ kg | float }}
        {%- endfor %}
    end
{%- endmacro %}

{#- Fuel on board (kg), averaged over lap `lap_number` of a race or sprint whose leader completed
    `session_laps` laps: the start fuel burnt evenly, lap by lap, to empty at the flag. A sprint starts with
    the share of the race fuel its distance needs (var `fuel_sprint_distance_fraction`). Null in practice
    and qualifying, whose fuel loads nobody publishes. -#}
{% macro fuel_load_kg(season, session, lap_number, session_laps) -%}
    case
        when {{ is_race_like(session) }} and {{ session_laps }} > 0 and {{ lap_number }} between 1 and {{ session_laps }}
            then {{ race_start_fuel_kg(season) }}
                * case when {{ session }} = 'S' then {{ var('fuel_sprint_distance_fraction') | float }} else 1.0 end
                * (1.0 - ({{ lap_number }} - 0.5) / {{ session_laps }})
    end
{%- endmacro %}

{#- The lap time the fuel load costs (ms): fuel on board x lap time per kg (var `fuel_lap_time_s_per_kg`). -#}
{% macro fuel_effect_ms(season, session, lap_number, session_laps) -%}
    ({{ fuel_load_kg(season, session, lap_number, session_laps) }} * {{ var('fuel_lap_time_s_per_kg') | float }} * 1000.0)
{%- endmacro %}

{#- The lap time as if the car ran with an empty tank: lap time minus the fuel effect. -#}
{% macro fuel_corrected_lap_time_ms(lap_time_ms, season, session, lap_number, session_laps) -%}
    ({{ lap_time_ms }} - {{ fuel_effect_ms(season, session, lap_number, session_laps) }})
{%- endmacro %}

{#- The most severe flag of a lap from its FastF1 track status string: 'Red flag' > 'Safety car' >
    'Virtual safety car' > 'Yellow flag' > 'Green' (null when the status is unknown). -#}
{% macro track_status_label(track_status) -%}
    case
        when {{ track_status }} like '%5%' then 'Red flag'
        when {{ track_status }} like '%4%' then 'Safety car'
        when {{ track_status }} like '%6%' or {{ track_status }} like '%7%' then 'Virtual safety car'
        when {{ track_status }} like '%2%' then 'Yellow flag'
        when {{ track_status }} is not null then 'Green'
    end
{%- endmacro %}
