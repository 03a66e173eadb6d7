"""Partner revenue share: statements of what partners are owed, from finalized documents."""
