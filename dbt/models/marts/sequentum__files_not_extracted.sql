-- One row per agent: the delivered files the tap could not extract (file_errors), by what it did about them,
-- and the latest one with its reason.
with errors as (

    select * from {{ ref('stg_sequentum__file_errors') }}

),

agents as (

    select * from {{ ref('stg_sequentum__agents') }}

),

totals as (

    select
        agent_id,
        count(distinct file_id) as files_not_extracted,
        sum(case when action = 'skipped' then 1 else 0 end) as skipped,
        sum(case when action = 'stopped' then 1 else 0 end) as stopped,
        sum(case when action = 'no_stream' then 1 else 0 end) as without_stream,
        sum(case when action = 'unsupported' then 1 else 0 end) as unsupported,
        max(detected_at) as last_detected_at
    from errors
    group by agent_id

),

ranked as (

    select
        *,
        row_number() over (partition by agent_id order by detected_at desc, file_id desc) as recency
    from errors

)

select
    agents.agent_id,
    agents.name as agent_name,
    coalesce(totals.files_not_extracted, 0) as files_not_extracted,
    coalesce(totals.skipped, 0) as skipped,
    coalesce(totals.stopped, 0) as stopped,
    coalesce(totals.without_stream, 0) as without_stream,
    coalesce(totals.unsupported, 0) as unsupported,
    totals.last_detected_at,
    latest.file_id as last_file_id,
    latest.file_name as last_file_name,
    latest.stream as last_stream,
    latest.action as last_action,
    latest.reason as last_reason
from agents
left join totals
    on agents.agent_id = totals.agent_id
left join ranked as latest
    on agents.agent_id = latest.agent_id
    and latest.recency = 1
