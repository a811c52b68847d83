"""How a pair reads one Shopify shop: the catalog's `shopify:` block, shared by every pair
whose source is Shopify (the flagship, and any pair built on the shared orders step)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from integrations_pipelines.vendors.shopify.client import DEFAULT_API_VERSION

__all__ = ["ShopifyOptions"]


class ShopifyOptions(BaseModel):
    """How the shop is read and which of its orders are booked.

    `test_orders: skip` (default) leaves orders Shopify flags `test` out of the books, counted
    and recorded in the ledger as skipped; `gift_cards: liability_item` books gift-card sales
    to `gift_card_item_id` (a liability, not revenue), `sales` books them as ordinary lines.
    `shop`: which shop; `default` is SHOPIFY_BASE_URL / SHOPIFY_ACCESS_TOKEN (resource
    `shopify`), another name `uk` is SHOPIFY_UK_BASE_URL / SHOPIFY_UK_ACCESS_TOKEN (resource
    `shopify_uk`), its orders kept apart in the raw store (`shopify/orders/uk`).
    """

    model_config = ConfigDict(extra="forbid")
    api_version: str = DEFAULT_API_VERSION
    test_orders: Literal["skip", "invoice"] = "skip"
    gift_cards: Literal["liability_item", "sales"] = "liability_item"
    shop: str = Field(default="default", pattern=r"^[a-z][a-z0-9_]*$")

    @property
    def resource(self) -> str:
        """The resource key of the shop (also its concurrency pool)."""
        return "shopify" if self.shop == "default" else f"shopify_{self.shop}"
