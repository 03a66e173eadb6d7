"""GDPR erasure of a customer: its personal event properties replaced by keyed hashes, its
name by a tombstone, its invoices kept for the tax-law retention (docs/erasure.md)."""
