{{ config(materialized='view') }}

-- One row per subscription, period, charged metric and group: the quantity and its exact,
-- unrounded amount (the sum of its tiers in fct_rated_usage_tiers). Invoices round it.
{{ rated_usage(ref('fct_rated_usage_tiers')) }}
