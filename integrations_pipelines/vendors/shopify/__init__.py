"""Shopify Admin REST: order models we own and a paginated, paced client."""
