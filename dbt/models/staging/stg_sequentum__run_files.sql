{{ sequentum.stage_decoded('run_files', ['file_id'], 'sequentum__file_types', 'file_type', ['codes.file_type_name']) }}
