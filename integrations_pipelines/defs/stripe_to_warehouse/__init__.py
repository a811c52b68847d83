"""Stripe into the analytics warehouse, on the kit (issue 14)."""
