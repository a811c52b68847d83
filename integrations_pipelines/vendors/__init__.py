"""Vendor connectors: plain library code (no Dagster), one resilient HTTP client for all."""
