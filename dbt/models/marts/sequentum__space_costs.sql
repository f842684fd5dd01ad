{{ config(enabled=var('sequentum__using_billing', true)) }}

-- What each space's billed runs cost per period (the var sequentum__cost_period); a null space is the agents'
-- owners' personal spaces.
{{ sequentum.costs_per_period(['space_id', 'space_name'], counts=['count(distinct agent_id) as agents']) }}
