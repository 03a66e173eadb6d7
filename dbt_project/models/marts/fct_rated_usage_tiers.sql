{{ config(materialized='view') }}

-- How each usage quantity is priced, tier by tier: the model an analyst reads to explain an
-- invoice line (CONTRACT.md §3). A usage row takes its group's own price when the charge
-- has one, else the charge's price (overrides already applied at catalog apply). Amounts
-- are exact: Decimal256 with the scales of quantity (12) and price (20) added, never rounded
-- here; invoices round each line once, after summing its tiers.
{{ rated_tiers(ref('fct_subscription_usage')) }}
