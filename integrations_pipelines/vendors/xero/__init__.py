"""Xero: the second accounting destination (Shopify -> Xero): client, writer, records."""
