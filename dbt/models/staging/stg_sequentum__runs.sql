-- Status codes decoded from the seed the tap's own table generates (tap_sequentum/domain.py).
with runs as (

    {{ sequentum.stage('runs', ['run_id']) }}

),

statuses as (

    select * from {{ ref('sequentum__run_statuses') }}

)

select
    runs.*,
    statuses.status_name,
    coalesce(statuses.is_finished, false) as is_finished,
    coalesce(statuses.is_success, false) as is_success
from runs
left join statuses
    on runs.status = statuses.status_code
