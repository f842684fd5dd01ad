-- One row per agent: how its runs went (success rate, last success, last failure and its message), when its
-- data last arrived and, with schedules, when it runs next (beside its last run) and whether an enabled
-- schedule expected a run that brought no data since.
{%- set using_billing = var('sequentum__using_billing', true) %}
{%- set using_schedules = var('sequentum__using_schedules', true) %}

with agents as (

    select * from {{ ref('stg_sequentum__agents') }}

),

runs as (

    select * from {{ ref('int_sequentum__runs') }}

),

{% if using_billing -%}
spaces as (

    select * from {{ ref('stg_sequentum__spaces') }}

),

{% endif -%}
content as (

    select * from {{ ref('int_sequentum__content_runs') }}

),

now as (

    select {{ sequentum.utc_now() }} as measured_at

),

run_totals as (

    select
        agent_id,
        count(*) as runs,
        sum(case when is_finished then 1 else 0 end) as finished_runs,
        sum(case when is_success then 1 else 0 end) as successful_runs,
        sum(case when is_finished and not is_success then 1 else 0 end) as unsuccessful_runs,
        sum(case when not is_finished then 1 else 0 end) as active_runs,
        max(created_at) as last_run_at,
        max(case when is_success then coalesce(ended_at, created_at) end) as last_success_at,
        max(case when exported_rows > 0 then coalesce(ended_at, created_at) end) as last_data_at,
        max(case when exported_rows > 0 then created_at end) as last_data_run_created_at
    from runs
    group by agent_id

),

ranked_runs as (

    select
        *,
        row_number() over (partition by agent_id order by created_at desc, run_id desc) as recency
    from runs

),

ranked_failures as (

    select
        *,
        row_number() over (partition by agent_id order by created_at desc, run_id desc) as recency
    from runs
    where is_finished and not is_success

),

content_totals as (

    select
        agent_id,
        max(loaded_at) as last_loaded_at
    from content
    group by agent_id

),

{% if using_schedules -%}
schedule_totals as (

    select
        expectations.agent_id,
        count(*) as schedules,
        sum(case when expectations.is_enabled then 1 else 0 end) as enabled_schedules,
        min(case when expectations.is_enabled then expectations.next_run_at end) as next_scheduled_run_at,
        max(expectations.last_expected_run_at) as last_expected_run_at,
        max(
            case
                when expectations.last_expected_run_at
                    <= {{ dbt.dateadd('hour', -1 * var('sequentum__schedule_grace_hours', 2), 'now.measured_at') }}
                    and (
                        run_totals.last_data_run_created_at is null
                        or run_totals.last_data_run_created_at < expectations.last_expected_run_at
                    )
                then 1 else 0
            end
        ) as missed_schedules
    from {{ ref('int_sequentum__schedule_expectations') }} as expectations
    cross join now
    left join run_totals
        on expectations.agent_id = run_totals.agent_id
    group by expectations.agent_id

),

{% endif -%}
joined as (

    select
        agents.agent_id,
        agents.name as agent_name,
        agents.space_id,
        {% if using_billing -%} spaces.name {%- else -%} cast(null as {{ dbt.type_string() }}) {%- endif %} as space_name,
        agents.is_active,
        coalesce(run_totals.runs, 0) as runs,
        coalesce(run_totals.finished_runs, 0) as finished_runs,
        coalesce(run_totals.successful_runs, 0) as successful_runs,
        coalesce(run_totals.unsuccessful_runs, 0) as unsuccessful_runs,
        coalesce(run_totals.active_runs, 0) as active_runs,
        round(
            cast(run_totals.successful_runs as {{ dbt.type_numeric() }})
            / nullif(run_totals.finished_runs, 0),
            4
        ) as success_rate,
        run_totals.last_run_at,
        last_runs.status_name as last_run_status,
        {% if using_schedules -%}
        schedule_totals.next_scheduled_run_at,
        {% endif -%}
        run_totals.last_success_at,
        last_failures.run_id as last_failure_run_id,
        coalesce(last_failures.ended_at, last_failures.created_at) as last_failure_at,
        last_failures.status_name as last_failure_status,
        last_failures.message as last_failure_message,
        run_totals.last_data_at,
        {{ sequentum.hours_between('run_totals.last_data_at', 'now.measured_at') }} as hours_since_last_data,
        content_totals.last_loaded_at,
        {{ sequentum.hours_between('content_totals.last_loaded_at', 'now.measured_at') }} as hours_since_last_load,
        {% if using_schedules -%}
        coalesce(schedule_totals.schedules, 0) as schedules,
        coalesce(schedule_totals.enabled_schedules, 0) as enabled_schedules,
        schedule_totals.last_expected_run_at,
        coalesce(schedule_totals.missed_schedules, 0) = 1 as is_schedule_missed,
        {% endif -%}
        now.measured_at
    from agents
    cross join now
    left join run_totals
        on agents.agent_id = run_totals.agent_id
    left join ranked_runs as last_runs
        on agents.agent_id = last_runs.agent_id
        and last_runs.recency = 1
    left join ranked_failures as last_failures
        on agents.agent_id = last_failures.agent_id
        and last_failures.recency = 1
    left join content_totals
        on agents.agent_id = content_totals.agent_id
    {% if using_billing -%}
    left join spaces
        on agents.space_id = spaces.space_id
    {% endif -%}
    {% if using_schedules -%}
    left join schedule_totals
        on agents.agent_id = schedule_totals.agent_id
    {% endif %}
)

select * from joined
