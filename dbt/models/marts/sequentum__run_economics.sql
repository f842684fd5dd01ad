{{ config(enabled=var('sequentum__using_billing', true)) }}

-- One row per run or billed run: what it cost in credits and per 1,000 exported rows. A cost whose run is not
-- in runs (billing reaches runs older than the newest 1000 the runs list shows) is kept, without rows.
with runs as (

    select * from {{ ref('int_sequentum__runs') }}

),

costs as (

    select * from {{ ref('stg_sequentum__run_costs') }}

),

agents as (

    select * from {{ ref('stg_sequentum__agents') }}

),

spaces as (

    select * from {{ ref('stg_sequentum__spaces') }}

),

joined as (

    select
        coalesce(runs.run_id, costs.run_id) as run_id,
        coalesce(runs.agent_id, costs.agent_id) as agent_id,
        runs.space_id,
        runs.status_name,
        runs.is_success,
        coalesce(runs.created_at, costs.started_at) as created_at,
        coalesce(runs.ended_at, costs.ended_at) as ended_at,
        costs.billed_at,
        runs.exported_rows,
        runs.page_count,
        runs.run_time_sec,
        costs.cost as credits,
        costs.billing_type
    from runs
    full outer join costs
        on runs.run_id = costs.run_id

)

select
    joined.run_id,
    joined.agent_id,
    agents.name as agent_name,
    coalesce(joined.space_id, agents.space_id) as space_id,
    spaces.name as space_name,
    joined.status_name,
    joined.is_success,
    joined.created_at,
    joined.ended_at,
    joined.billed_at,
    joined.exported_rows,
    joined.page_count,
    joined.run_time_sec,
    joined.credits,
    joined.billing_type,
    case
        when joined.exported_rows > 0 then round(1000 * joined.credits / joined.exported_rows, 4)
    end as credits_per_1000_rows
from joined
left join agents
    on joined.agent_id = agents.agent_id
left join spaces
    on coalesce(joined.space_id, agents.space_id) = spaces.space_id
