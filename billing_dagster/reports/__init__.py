"""Finance reports over the dbt marts: figures, text for the CLI, pages for the browser."""
