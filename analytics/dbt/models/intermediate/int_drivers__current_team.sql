-- Each driver's current team and since when: the source of the driver-team snapshot. The
-- timestamp changes only when the team changes, so the snapshot versions a driver per team change.
with

stints as (

    select * from {{ ref('int_drivers__team_stints') }}

),

final as (

    select
        driver_id,
        constructor_id,
        team_name,
        valid_from as team_since
    from stints
    where valid_to is null

)

select * from final
