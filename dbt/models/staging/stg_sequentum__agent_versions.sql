{{ sequentum.stage('agent_versions', ['agent_id', 'version']) }}
