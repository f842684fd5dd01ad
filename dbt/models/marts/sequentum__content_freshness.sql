-- One row per content stream (table) and agent: how much data it holds, when its newest run's data was
-- created and loaded, and how many hours ago.
with content as (

    select * from {{ ref('int_sequentum__content_runs') }}

),

agents as (

    select * from {{ ref('stg_sequentum__agents') }}

),

now as (

    select {{ sequentum.utc_now() }} as measured_at

),

totals as (

    select
        content_table,
        agent_id,
        count(*) as runs,
        sum(file_count) as files,
        sum(row_count) as row_count,
        min(run_created_at) as first_run_at,
        max(run_created_at) as last_run_at,
        max(loaded_at) as last_loaded_at
    from content
    group by content_table, agent_id

)

select
    totals.content_table,
    totals.agent_id,
    agents.name as agent_name,
    totals.runs,
    totals.files,
    totals.row_count,
    totals.first_run_at,
    totals.last_run_at,
    totals.last_loaded_at,
    {{ sequentum.hours_between('totals.last_run_at', 'now.measured_at') }} as hours_since_last_run,
    {{ sequentum.hours_between('totals.last_loaded_at', 'now.measured_at') }} as hours_since_last_load,
    now.measured_at
from totals
cross join now
left join agents
    on totals.agent_id = agents.agent_id
