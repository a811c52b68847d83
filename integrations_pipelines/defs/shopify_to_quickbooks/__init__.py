"""Shopify orders -> QuickBooks Online invoices: assets, checks, job and schedule."""
