{{ config(enabled=var('sequentum__using_schedules', true)) }}

-- When each enabled schedule last expected its agent to run: a next run time already past (the scheduler
-- missed it), else the next run time less the schedule's interval, or a RunOnce schedule's start; null when
-- that lies in the future or the schedule is disabled.
with schedules as (

    select * from {{ ref('stg_sequentum__schedules') }}

),

now as (

    select {{ sequentum.utc_now() }} as measured_at

),

expected as (

    select
        schedules.schedule_id,
        schedules.agent_id,
        schedules.is_enabled,
        schedules.next_run_at,
        schedules.interval_minutes,
        now.measured_at,
        case
            when not schedules.is_enabled then null
            when schedules.next_run_at <= now.measured_at then schedules.next_run_at
            when schedules.schedule_type = 1 then schedules.starts_at
            else {{ dbt.dateadd('minute', '-1 * schedules.interval_minutes', 'schedules.next_run_at') }}
        end as last_expected_run_at
    from schedules
    cross join now

)

select
    schedule_id,
    agent_id,
    is_enabled,
    next_run_at,
    interval_minutes,
    case when last_expected_run_at <= measured_at then last_expected_run_at end as last_expected_run_at
from expected
