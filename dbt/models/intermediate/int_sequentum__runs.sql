-- Runs with what the marts need of their agent: its name and the run's space (a run's spaceId 0 is the owner's
-- personal space: null, as agents.spaceId has it), and exported_rows (exportCount; dataCount for a finished run
-- without one: a running run's dataCount is scraped, not exported yet).
with runs as (

    select * from {{ ref('stg_sequentum__runs') }}

),

agents as (

    select * from {{ ref('stg_sequentum__agents') }}

)

select
    runs.run_id,
    runs.agent_id,
    coalesce(agents.name, runs.config_name) as agent_name,
    case when runs.space_id is null then agents.space_id else nullif(runs.space_id, 0) end as space_id,
    runs.status,
    runs.status_name,
    runs.is_finished,
    runs.is_success,
    runs.message,
    runs.created_at,
    runs.started_at,
    runs.ended_at,
    coalesce(runs.export_count, case when runs.is_finished then runs.data_count end) as exported_rows,
    runs.page_count,
    runs.run_time_sec
from runs
left join agents
    on runs.agent_id = agents.agent_id
