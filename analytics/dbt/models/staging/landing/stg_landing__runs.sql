{{ config(materialized='table') }}

-- Every run of the landing zone that has a manifest in the warehouse: its scope, whether it is complete
-- (every file it lists is loaded with the manifest's row count, or was refused by the loader and
-- quarantined: a bad file does not hold back the rest of its run) and whether it is current: the latest
-- complete run of its session (FastF1 session runs) or season (schedule runs), or any complete Ergast
-- run (the history is merged by natural key across runs). Runs are ordered by the time their manifest
-- was written, never by load time, so the order and timing of loads do not matter.
with

manifests as (

    select * from {{ source('landing', 'load_manifests') }}
    qualify row_number() over (partition by run_id order by loaded_at, manifest_key) = 1

),

listed as (

    select * from {{ ref('stg_landing__manifest_files') }}

),

loaded as (

    select * from {{ ref('stg_landing__loaded_files') }}

),

quarantined as (

    select distinct file_name from {{ source('landing', 'load_quarantine') }}

),

file_status as (

    select
        listed.run_id,
        listed.dataset,
        listed.listed_rows,
        coalesce(loaded.loaded_rows, 0) = listed.listed_rows as is_loaded,
        quarantined.file_name is not null as is_quarantined,
        case
            when listed.dataset = 'schedule'
                then split_part(split_part(listed.file_name, 'season=', 2), '/', 1)
        end as schedule_season
    from listed
    left join loaded
        on listed.file_name = loaded.file_name
        and listed.run_id = loaded.run_id
    left join quarantined on listed.file_name = quarantined.file_name

),

run_files as (

    select
        run_id,
        count(*) as files_listed,
        sum(case when is_loaded then 1 else 0 end) as files_loaded,
        sum(case when is_quarantined and not is_loaded then 1 else 0 end) as files_quarantined,
        {% for dataset in session_datasets() -%}
        sum(case when dataset = '{{ dataset }}' then listed_rows else 0 end) as {{ dataset }}_rows,
        {% endfor -%}
        max(schedule_season) as schedule_season
    from file_status
    group by run_id

),

runs as (

    select
        manifests.run_id,
        manifests.source,
        case
            when manifests.session is not null then 'session'
            when run_files.schedule_season is not null then 'season'
            when manifests.source = 'ergast' then 'history'
        end as run_scope,
        cast(coalesce(manifests.season, cast(run_files.schedule_season as integer)) as integer) as season,
        cast(manifests.round as integer) as round,
        cast(manifests.session as {{ dbt.type_string() }}) as session,
        case
            when manifests.session is not null then {{ session_key('manifests.season', 'manifests.round', 'manifests.session') }}
        end as session_key,
        coalesce(run_files.files_listed, 0) as files_listed,
        coalesce(run_files.files_loaded, 0) as files_loaded,
        coalesce(run_files.files_quarantined, 0) as files_quarantined,
        coalesce(run_files.files_listed, 0)
            = coalesce(run_files.files_loaded, 0) + coalesce(run_files.files_quarantined, 0) as is_complete,
        {% for dataset in session_datasets() -%}
        coalesce(run_files.{{ dataset }}_rows, 0) as {{ dataset }}_rows,
        {% endfor -%}
        {{ to_utc_timestamp('manifests.created_at') }} as created_at,
        {{ to_utc_timestamp('manifests.loaded_at') }} as manifest_loaded_at
    from manifests
    left join run_files on manifests.run_id = run_files.run_id

),

ranked as (

    select
        runs.*,
        row_number() over (
            partition by runs.is_complete, runs.run_scope, runs.season, runs.round, runs.session
            order by runs.created_at desc, runs.run_id desc
        ) as recency
    from runs

),

final as (

    select
        ranked.*,
        ranked.is_complete and (ranked.run_scope = 'history' or (ranked.run_scope is not null and ranked.recency = 1))
            as is_current
    from ranked

)

select * from final
