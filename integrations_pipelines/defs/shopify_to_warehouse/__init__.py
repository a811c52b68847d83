"""Shopify orders -> the analytics warehouse: the kit's worked example of a second pair."""
