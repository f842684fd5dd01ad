{{ config(enabled=var('sequentum__using_schedules', true)) }}

-- Schedule type codes decoded from their seed; a schedule deleted in Sequentum (its latest extraction is the
-- tap's tombstone) is left out.
-- interval_minutes: how long a schedule waits between runs. RunEvery: runEveryCount periods (a month counts 31
-- days). CRON: the coarsest unit its fields repeat on, which never makes a schedule look late too early: a
-- day-of-week field is a week, a day-of-month or month field a month, hours a day, `*/n` hours n hours,
-- minutes an hour, `*/n` minutes n minutes (6- and 7-field Quartz expressions drop their seconds field).
with schedules as (

    {{ sequentum.stage_decoded(
        'schedules', ['schedule_id'], 'sequentum__schedule_types', 'schedule_type', ['codes.schedule_type_name'],
        tombstone='deleted_at'
    ) }}

),

cron as (

    select
        schedule_id,
        trim(schedule) as expression,
        case
            when length(trim(schedule)) - length(replace(trim(schedule), ' ', '')) >= 5 then 1
            else 0
        end as seconds_field
    from schedules
    where schedule_type = 3

),

cron_fields as (

    select
        schedule_id,
        replace(split_part(expression, ' ', 1 + seconds_field), '?', '*') as minutes,
        replace(split_part(expression, ' ', 2 + seconds_field), '?', '*') as hours,
        replace(split_part(expression, ' ', 3 + seconds_field), '?', '*') as days_of_month,
        replace(split_part(expression, ' ', 4 + seconds_field), '?', '*') as months,
        replace(split_part(expression, ' ', 5 + seconds_field), '?', '*') as days_of_week
    from cron

),

cron_intervals as (

    select
        schedule_id,
        case
            when days_of_week <> '*' then 7 * 24 * 60
            when days_of_month <> '*' or months <> '*' then 31 * 24 * 60
            when hours like '*/%' then 60 * cast(substr(hours, 3) as {{ dbt.type_int() }})
            when hours <> '*' then 24 * 60
            when minutes like '*/%' then cast(substr(minutes, 3) as {{ dbt.type_int() }})
            when minutes <> '*' then 60
            else 1
        end as interval_minutes
    from cron_fields

)

select
    schedules.*,
    case
        when schedules.schedule_type = 2 then schedules.run_every_count * case schedules.run_every_period
            when 1 then 1
            when 2 then 60
            when 3 then 24 * 60
            when 4 then 7 * 24 * 60
            when 5 then 31 * 24 * 60
        end
        when schedules.schedule_type = 3 then cron_intervals.interval_minutes
    end as interval_minutes
from schedules
left join cron_intervals
    on schedules.schedule_id = cron_intervals.schedule_id
