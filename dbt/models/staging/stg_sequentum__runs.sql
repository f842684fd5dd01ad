{{ sequentum.stage_decoded('runs', ['run_id'], 'sequentum__run_statuses', 'status', [
    'codes.status_name',
    'coalesce(codes.is_finished, false) as is_finished',
    'coalesce(codes.is_success, false) as is_success',
]) }}
