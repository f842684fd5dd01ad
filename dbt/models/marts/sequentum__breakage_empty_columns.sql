-- Content columns that were filled in earlier runs and are empty in the latest one (of the same table and
-- agent): a selector that stopped matching. Earlier: the sequentum__empty_column_lookback_runs runs before the
-- latest run with rows.
with columns as (

    select * from {{ ref('int_sequentum__content_columns') }}

),

agents as (

    select * from {{ ref('stg_sequentum__agents') }}

),

runs as (

    select distinct content_table, agent_id, run_id, run_created_at, row_count
    from columns
    where row_count > 0

),

ranked as (

    select
        *,
        row_number() over (
            partition by content_table, agent_id order by run_created_at desc, run_id desc
        ) as recency
    from runs

),

latest_empty as (

    select columns.*
    from columns
    inner join ranked
        on columns.content_table = ranked.content_table
        and columns.agent_id = ranked.agent_id
        and columns.run_id = ranked.run_id
        and ranked.recency = 1
    where columns.filled_rows = 0

),

earlier_filled as (

    select
        columns.content_table,
        columns.agent_id,
        columns.column_name,
        count(*) as earlier_runs_filled,
        max(columns.run_created_at) as last_filled_at
    from columns
    inner join ranked
        on columns.content_table = ranked.content_table
        and columns.agent_id = ranked.agent_id
        and columns.run_id = ranked.run_id
        and ranked.recency between 2 and 1 + {{ var('sequentum__empty_column_lookback_runs', 5) }}
    where columns.filled_rows > 0
    group by columns.content_table, columns.agent_id, columns.column_name

)

select
    latest_empty.content_table,
    latest_empty.agent_id,
    agents.name as agent_name,
    latest_empty.column_name,
    latest_empty.run_id as latest_run_id,
    latest_empty.run_created_at as latest_run_created_at,
    latest_empty.row_count as latest_run_rows,
    earlier_filled.earlier_runs_filled,
    earlier_filled.last_filled_at
from latest_empty
inner join earlier_filled
    on latest_empty.content_table = earlier_filled.content_table
    and latest_empty.agent_id = earlier_filled.agent_id
    and latest_empty.column_name = earlier_filled.column_name
left join agents
    on latest_empty.agent_id = agents.agent_id
