{{ config(enabled=var('sequentum__using_billing', true)) }}

{{ sequentum.stage('run_costs', ['run_id']) }}
