"""Gateway sync: finalized invoices and credit notes to a payment gateway, payment status back."""
