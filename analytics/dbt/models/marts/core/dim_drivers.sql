-- Drivers with their team over time (SCD type 2, valid_from inclusive, valid_to exclusive, null
-- while current). Versions come from the driver-team snapshot; team changes from before the
-- snapshot's first version of a driver are derived from the race results.
with

snapshot_versions as (

    select * from {{ ref('snap_driver_teams') }}

),

stints as (

    select * from {{ ref('int_drivers__team_stints') }}

),

drivers as (

    select * from {{ ref('stg_ergast__drivers') }}

),

first_snapshot as (

    select driver_id, min(dbt_valid_from) as first_valid_from
    from snapshot_versions
    group by driver_id

),

history as (

    select
        stints.driver_id,
        stints.constructor_id,
        stints.team_name,
        stints.valid_from,
        stints.valid_to,
        'results' as version_source
    from stints
    left join first_snapshot on stints.driver_id = first_snapshot.driver_id
    where first_snapshot.first_valid_from is null or stints.valid_from < first_snapshot.first_valid_from

),

snapshotted as (

    select
        driver_id,
        constructor_id,
        team_name,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to,
        'snapshot' as version_source
    from snapshot_versions

),

versions as (

    select * from history
    union all
    select * from snapshotted

),

final as (

    select
        -- ids
        {{ dbt.hash("versions.driver_id || '|' || cast(versions.valid_from as " ~ dbt.type_string() ~ ")") }}
            as driver_version_id,
        versions.driver_id,
        drivers.driver_id as ergast_driver_id,
        versions.constructor_id,

        -- strings
        drivers.driver_code,
        drivers.driver_name,
        drivers.forename,
        drivers.surname,
        drivers.nationality,
        versions.team_name,
        versions.version_source,

        -- numerics
        drivers.permanent_number,

        -- booleans
        versions.valid_to is null as is_current,

        -- dates and timestamps
        drivers.date_of_birth,
        versions.valid_from,
        versions.valid_to

    from versions
    left join drivers on versions.driver_id = drivers.driver_ref

)

select * from final
