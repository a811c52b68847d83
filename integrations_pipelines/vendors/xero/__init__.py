"""Xero: the accounting destination of the UK pair (pacing only, until that pair lands)."""
