{{ config(enabled=var('sequentum__using_billing', true)) }}

{{ sequentum.stage('credit_transactions', ['credit_transaction_id']) }}
