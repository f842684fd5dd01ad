{{ config(enabled=var('sequentum__using_billing', true)) }}

{{ sequentum.stage('spaces', ['space_id']) }}
