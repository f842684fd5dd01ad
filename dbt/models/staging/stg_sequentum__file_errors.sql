{{ sequentum.stage('file_errors', ['file_id', 'stream']) }}
