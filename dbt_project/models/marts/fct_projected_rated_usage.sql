{{ config(materialized='view') }}

-- The projected usage of a period (fct_subscription_usage_projected) rated by the same SQL
-- as the invoices' usage (macros/rating.sql): a parameterized view, read as
-- fct_projected_rated_usage(as_of = 'YYYY-MM-DD'). Columns as fct_rated_usage.
{{ rated_usage('(' ~ rated_tiers(ref('fct_subscription_usage_projected') ~ '(as_of = {as_of:Date})') ~ ')') }}
