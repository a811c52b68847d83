"""Idempotent create-or-update through the ledger; dead letters; replay."""
