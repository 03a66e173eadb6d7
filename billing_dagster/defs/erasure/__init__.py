"""GDPR erasure of a customer, as an audited Dagster job."""
