"""Vendor sandboxes: local simulators of the Shopify Admin REST API and the QuickBooks
Online Accounting API, with fault injection and a seeded shop generator.

They stand in for the real vendors in the demo and the tests (there is no network to the
vendors there); the project's HTTP clients talk to them by base URL exactly as they talk to
the real APIs. Production code never imports this package.
"""
