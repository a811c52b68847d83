"""The integration store in PostgreSQL: raw tables, ledger, dead letters, tokens, incidents."""
