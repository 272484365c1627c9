{{ config(materialized='table') }}

-- The files of the current runs (stg_landing__runs.is_current): the only staging rows the models read, and only
-- those of the run's own season, round and session (current_run_rows: a file's rows of another session are not
-- its run's, whichever way they were loaded).
with

runs as (

    select * from {{ ref('stg_landing__runs') }}
    where is_current

),

listed as (

    select * from {{ ref('stg_landing__manifest_files') }}

),

final as (

    select
        listed.file_name,
        listed.dataset,
        runs.run_id,
        runs.run_scope,
        runs.session_key,
        runs.season,
        runs.round,
        runs.session,
        runs.created_at
    from listed
    inner join runs on listed.run_id = runs.run_id

)

select * from final
