-- A driver's spells with one constructor: consecutive championship rounds (race or sprint) driven
-- for the same team form one stint; a stint ends when the next one starts.
with

results as (

    select * from {{ ref('fct_race_results') }}

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

driver_rounds as (

    -- the team a driver drove for in each round (the race's team when race and sprint differ)
    select
        results.driver_id,
        results.season,
        results.round,
        results.constructor_id,
        results.team_name,
        coalesce(sessions.event_date, {{ dbt.cast('sessions.session_start_utc', api.Column.translate_type('date')) }}) as round_date
    from results
    inner join sessions on results.session_key = sessions.session_key
    where results.constructor_id is not null
    qualify row_number() over (
        partition by results.driver_id, results.season, results.round
        order by case results.session when 'R' then 0 else 1 end
    ) = 1

),

changes as (

    select
        *,
        case
            when constructor_id = lag(constructor_id) over (partition by driver_id order by season, round) then 0
            else 1
        end as is_new_stint
    from driver_rounds

),

numbered as (

    select
        *,
        sum(is_new_stint) over (
            partition by driver_id order by season, round rows between unbounded preceding and current row
        ) as stint_number
    from changes

),

stints as (

    select
        driver_id,
        stint_number,
        max(constructor_id) as constructor_id,
        max(team_name) as team_name,
        min(season * 100 + round) as first_round_key,
        max(season * 100 + round) as last_round_key,
        cast(min(round_date) as {{ dbt.type_timestamp() }}) as valid_from
    from numbered
    group by driver_id, stint_number

),

final as (

    select
        *,
        lead(valid_from) over (partition by driver_id order by stint_number) as valid_to
    from stints

)

select * from final
