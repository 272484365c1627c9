-- Every Grand Prix and sprint result of a championship round with what the standings need: the
-- points the driver scored (the official classification's; for a result without them, the
-- season's scale for the classified place times the round's factor) and the points the car earns
-- its constructor under the season's constructors' rule. A driver who drove more than one car in a
-- Grand Prix (the 1950s' shared drives) has one row per car: fct_race_results folds the points of
-- all of them into the best-placed car; the other cars add their places and their constructors.
with

results as (

    select * from {{ ref('fct_race_results') }}

),

sessions as (

    select * from {{ ref('dim_sessions') }}

),

regulations as (

    select * from {{ ref('championship_regulations') }}

),

round_rules as (

    select * from {{ ref('championship_round_rules') }}

),

scales as (

    select * from {{ ref('championship_points_scales') }}

),

ergast_cars as (

    select
        races.season,
        races.round,
        drivers.driver_ref as driver_id,
        constructors.constructor_ref as constructor_id,
        constructors.constructor_name as team_name,
        ergast_results.position_order,
        ergast_results.position,
        ergast_results.position_text,
        ergast_results.points,
        count(*) over (partition by ergast_results.race_id, ergast_results.driver_id) as cars
    from {{ ref('stg_ergast__results') }} as ergast_results
    inner join {{ ref('stg_ergast__races') }} as races on ergast_results.race_id = races.race_id
    inner join {{ ref('stg_ergast__drivers') }} as drivers on ergast_results.driver_id = drivers.driver_id
    left join {{ ref('stg_ergast__constructors') }} as constructors
        on ergast_results.constructor_id = constructors.constructor_id

),

shared_cars as (

    -- the points of a driver's best-scoring car, for the seasons that counted only that one (1956-57)
    select season, round, driver_id, max(points) as best_car_points
    from ergast_cars
    where cars > 1
    group by season, round, driver_id

),

cars as (

    select
        results.season,
        results.round,
        results.session,
        results.session_key,
        results.driver_id,
        results.driver_code,
        results.driver_name,
        results.constructor_id,
        results.team_name,
        results.finish_order,
        results.position,
        results.is_classified,
        results.classified_position in ('D', 'E') as is_disqualified,
        results.points as official_points,
        results.points_source,
        results.points as car_points,
        false as is_additional_car
    from results

    union all

    select
        ergast_cars.season,
        ergast_cars.round,
        'R' as session,
        results.session_key,
        ergast_cars.driver_id,
        results.driver_code,
        results.driver_name,
        ergast_cars.constructor_id,
        ergast_cars.team_name,
        ergast_cars.position_order as finish_order,
        ergast_cars.position,
        ergast_cars.position is not null as is_classified,
        ergast_cars.position_text in ('D', 'E') as is_disqualified,
        0 as official_points,
        'ergast' as points_source,
        ergast_cars.points as car_points,
        true as is_additional_car
    from ergast_cars
    inner join results
        on ergast_cars.season = results.season
        and ergast_cars.round = results.round
        and results.session = 'R'
        and ergast_cars.driver_id = results.driver_id
        and ergast_cars.position_order <> results.finish_order
    where ergast_cars.cars > 1

),

with_rules as (

    select
        cars.*,
        sessions.event_name,
        case
            when drivers.shared_drive_points = 'split_best_car_only' and shared_cars.best_car_points is not null
                and not cars.is_additional_car
                then shared_cars.best_car_points
            else cars.official_points
        end as driver_points,
        coalesce(driver_round.points_factor, 1) as driver_points_factor,
        case cars.session
            when 'S' then drivers.sprint_scale
            else coalesce(driver_round.race_scale, drivers.race_scale)
        end as driver_scale,
        drivers.fastest_lap_points as driver_fastest_lap_points,
        constructors.is_awarded as constructors_awarded,
        constructors.scoring as constructor_scoring,
        coalesce(constructor_round.counts, true) as counts_for_constructors,
        coalesce(constructor_round.points_factor, 1) as constructor_points_factor,
        case cars.session
            when 'S' then constructors.sprint_scale
            else coalesce(constructor_round.race_scale, constructors.race_scale)
        end as constructor_scale
    from cars
    inner join sessions on cars.session_key = sessions.session_key
    inner join regulations as drivers
        on cars.season = drivers.season
        and drivers.championship = 'drivers'
    inner join regulations as constructors
        on cars.season = constructors.season
        and constructors.championship = 'constructors'
    left join shared_cars
        on cars.season = shared_cars.season
        and cars.round = shared_cars.round
        and cars.driver_id = shared_cars.driver_id
        and cars.session = 'R'
    left join round_rules as driver_round
        on cars.season = driver_round.season
        and cars.round = driver_round.round
        and cars.session = 'R'
        and driver_round.championship in ('drivers', 'both')
    left join round_rules as constructor_round
        on cars.season = constructor_round.season
        and cars.round = constructor_round.round
        and cars.session = 'R'
        and constructor_round.championship in ('constructors', 'both')

),

scored as (

    select
        with_rules.*,
        coalesce(
            with_rules.driver_points,
            coalesce(driver_scale.points, 0) * with_rules.driver_points_factor
        ) as points,
        case when with_rules.driver_points is null then 'regulations' else with_rules.points_source end as points_basis,
        coalesce(constructor_scale.points, 0) * with_rules.constructor_points_factor as constructor_scale_points
    from with_rules
    left join scales as driver_scale
        on with_rules.driver_scale = driver_scale.scale
        and with_rules.position = driver_scale.position
    left join scales as constructor_scale
        on with_rules.constructor_scale = constructor_scale.scale
        and with_rules.position = constructor_scale.position

),

final as (

    select
        season,
        round,
        event_name,
        session,
        driver_id,
        driver_code,
        driver_name,
        constructor_id,
        team_name,
        finish_order,
        position,
        is_classified,
        is_disqualified,
        is_additional_car,
        points,
        points_basis,
        -- the car's points for its constructor: all of them, or (best-placed-car era) without the
        -- drivers'-only fastest-lap point (1958-59); a car whose driver scored nothing (ineligible,
        -- a shared drive) earns its constructor nothing either
        case
            when not constructors_awarded or not counts_for_constructors then null
            when constructor_scoring = 'best_placed_car' and driver_fastest_lap_points > 0
                then case
                    when coalesce(car_points, points) > 0 then least(coalesce(car_points, points), constructor_scale_points)
                    else 0
                end
            else coalesce(car_points, points)
        end as constructor_points,
        constructors_awarded and counts_for_constructors as counts_for_constructors
    from scored

)

select * from final
