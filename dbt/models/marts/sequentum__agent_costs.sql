{{ config(enabled=var('sequentum__using_billing', true)) }}

-- What each agent's billed runs cost per period (the var sequentum__cost_period, by billing date).
{{ sequentum.costs_per_period(['agent_id', 'agent_name', 'space_id', 'space_name']) }}
