-- File type codes decoded from the seed the tap's own table generates (tap_sequentum/domain.py).
with run_files as (

    {{ sequentum.stage('run_files', ['file_id']) }}

),

file_types as (

    select * from {{ ref('sequentum__file_types') }}

)

select
    run_files.*,
    file_types.file_type_name
from run_files
left join file_types
    on run_files.file_type = file_types.file_type_code
