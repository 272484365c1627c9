-- Constructors (Ergast), with FastF1's latest display name and colour where FastF1 has seen the team.
with

constructors as (

    select * from {{ ref('stg_ergast__constructors') }}

),

session_drivers as (

    select * from {{ ref('int_fastf1__session_drivers') }}

),

latest_fastf1_team as (

    select
        constructor_ref,
        team_name as fastf1_team_name,
        team_colour
    from session_drivers
    where constructor_ref is not null and team_colour is not null
    qualify row_number() over (
        partition by constructor_ref order by season desc, round desc, session_key desc
    ) = 1

),

final as (

    select
        constructors.constructor_ref as constructor_id,
        constructors.constructor_id as ergast_constructor_id,
        constructors.constructor_name as team_name,
        latest_fastf1_team.fastf1_team_name,
        latest_fastf1_team.team_colour,
        constructors.nationality,
        constructors.wikipedia_url
    from constructors
    left join latest_fastf1_team on constructors.constructor_ref = latest_fastf1_team.constructor_ref

)

select * from final
