"""Shopify orders into Xero (the UK accounting pair), on the kit."""
