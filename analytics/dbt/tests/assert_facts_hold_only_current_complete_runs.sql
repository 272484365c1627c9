-- Facts are a function of the latest complete run of each session (stg_landing__runs.is_current), in both load
-- modes: no FastF1 fact row comes from another run of its session. Not an older run, not an incomplete one, and
-- not a run without a manifest (a crashed run's files, which Snowpipe loads as they arrive: only its manifest,
-- loaded into load_manifests by the manifests pipe or the loader, makes a run).
{% for fact in ['fct_laps', 'fct_weather', 'fct_race_control'] %}
select '{{ fact }}' as fact, facts.session_key, facts._run_id
from {{ ref(fact) }} as facts
left join {{ ref('stg_landing__runs') }} as runs
    on facts._run_id = runs.run_id
    and facts.session_key = runs.session_key
    and runs.is_current
    and runs.is_complete  -- checked on its own too: is_current is meant to imply it
where runs.run_id is null
{% if not loop.last %}union all{% endif %}
{% endfor %}
