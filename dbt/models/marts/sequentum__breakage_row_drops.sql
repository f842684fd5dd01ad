-- Successful runs that exported far fewer rows than their agent usually does: fewer than
-- sequentum__breakage_row_drop_ratio times the median of its previous sequentum__breakage_lookback_runs
-- successful runs (with at least sequentum__breakage_min_runs of them). A site changed and the agent still
-- "succeeds".
with runs as (

    select * from {{ ref('int_sequentum__runs') }}
    where is_success

),

numbered as (

    select
        *,
        row_number() over (partition by agent_id order by created_at, run_id) as run_number,
        count(*) over (partition by agent_id) as agent_runs
    from runs

),

previous as (

    select
        later.run_id,
        count(*) as previous_runs,
        cast({{ sequentum.median('earlier.exported_rows') }} as {{ dbt.type_numeric() }}) as median_rows
    from numbered as later
    inner join numbered as earlier
        on later.agent_id = earlier.agent_id
        and earlier.run_number < later.run_number
        and earlier.run_number >= later.run_number - {{ var('sequentum__breakage_lookback_runs', 10) }}
    group by later.run_id

)

select
    numbered.run_id,
    numbered.agent_id,
    numbered.agent_name,
    numbered.created_at,
    numbered.status_name,
    numbered.exported_rows,
    previous.previous_runs,
    previous.median_rows,
    round(cast(numbered.exported_rows as {{ dbt.type_numeric() }}) / nullif(previous.median_rows, 0), 4) as ratio,
    numbered.run_number = numbered.agent_runs as is_latest_run
from numbered
inner join previous
    on numbered.run_id = previous.run_id
where previous.previous_runs >= {{ var('sequentum__breakage_min_runs', 3) }}
    and coalesce(numbered.exported_rows, 0) < {{ var('sequentum__breakage_row_drop_ratio', 0.5) }} * previous.median_rows
