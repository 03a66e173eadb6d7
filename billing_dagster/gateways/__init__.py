"""Payment gateways: finalized invoices and credit notes pushed exactly once (docs/gateways.md)."""
