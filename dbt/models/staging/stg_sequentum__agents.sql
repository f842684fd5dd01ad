{{ sequentum.stage('agents', ['agent_id']) }}
