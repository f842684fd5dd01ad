{{ config(enabled=var('sequentum__using_billing', true)) }}

-- What each agent's billed runs cost per period (the var sequentum__cost_period, by billing date).
{%- set period = var('sequentum__cost_period', 'month') %}

with economics as (

    select * from {{ ref('sequentum__run_economics') }}
    where credits is not null

)

select
    cast({{ dbt.date_trunc(period, 'coalesce(billed_at, created_at)') }} as date) as period_start,
    agent_id,
    agent_name,
    space_id,
    space_name,
    count(*) as billed_runs,
    sum(credits) as credits,
    sum(coalesce(exported_rows, 0)) as exported_rows,
    round(1000 * sum(credits) / nullif(sum(coalesce(exported_rows, 0)), 0), 4) as credits_per_1000_rows
from economics
group by 1, agent_id, agent_name, space_id, space_name
