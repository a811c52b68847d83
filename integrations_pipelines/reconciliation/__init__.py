"""Reconciliation: prove that every source record in a window reached the destination intact.

`engine.reconcile` compares the source's desired records with the destination's read-back and
the sync ledger and classifies every matching key as missing, extra, duplicate, stale,
wrong_values or ok; `diagnosis.diagnose` attaches the likely cause of each discrepancy from the
evidence the store holds (dead letters, HTTP failures, edge-case tags). Plain Python and pandas:
no Dagster import, so the asset checks in `defs/` stay thin wiring.
"""
