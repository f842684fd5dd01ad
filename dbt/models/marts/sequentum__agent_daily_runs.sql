-- Runs by agent, day (of their creation, UTC) and status.
with runs as (

    select * from {{ ref('int_sequentum__runs') }}

)

select
    agent_id,
    agent_name,
    cast(created_at as date) as run_date,
    status,
    status_name,
    is_finished,
    is_success,
    count(*) as runs,
    sum(coalesce(exported_rows, 0)) as exported_rows
from runs
group by agent_id, agent_name, cast(created_at as date), status, status_name, is_finished, is_success
