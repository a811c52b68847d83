"""Stripe as a source: charges, refunds, disputes, payouts and the balance-transaction
ledger, listed by day and changed through the Events API (see `client.py`)."""
