"""Entitlements: may this customer use this feature now? Exact usage from the last
metering run (dbt model `fct_entitlement_usage`) plus the events `billing serve` accepted
since, answered from memory."""
