"""Partner statements: what each partner is owed for a finalized period."""
