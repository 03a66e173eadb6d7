"""Issue 6: ours against PostgreSQL, pandas and DuckDB (see __main__.py)."""
