"""How a pair reads one Shopify shop: the catalog's `shopify:` block, shared by every pair
whose source is Shopify (the flagship, and any pair built on the shared orders step)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict

from integrations_pipelines.vendors.shopify.client import DEFAULT_API_VERSION

__all__ = ["ShopifyOptions"]


class ShopifyOptions(BaseModel):
    """How the shop is read and which of its orders are booked.

    `test_orders: skip` (default) leaves orders Shopify flags `test` out of the books, counted
    and recorded in the ledger as skipped; `gift_cards: liability_item` books gift-card sales
    to `gift_card_item_id` (a liability, not revenue), `sales` books them as ordinary lines.
    """

    model_config = ConfigDict(extra="forbid")
    api_version: str = DEFAULT_API_VERSION
    test_orders: Literal["skip", "invoice"] = "skip"
    gift_cards: Literal["liability_item", "sales"] = "liability_item"
