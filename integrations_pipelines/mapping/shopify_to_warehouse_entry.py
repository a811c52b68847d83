"""The Shopify -> warehouse pair's catalog entry: which shop, and where its orders land
(`shopify:` and `warehouse:` in the entry). `catalog.ENTRY_MODELS` names this model for
every Shopify -> warehouse entry."""

from pydantic import BaseModel, ConfigDict

from integrations_pipelines.catalog import Integration
from integrations_pipelines.vendors.shopify.options import ShopifyOptions

__all__ = ["ShopifyToWarehouseEntry", "WarehouseOptions"]


class WarehouseOptions(BaseModel):
    """The warehouse schema and table the orders are loaded into."""

    model_config = ConfigDict(extra="forbid")
    schema_name: str = "analytics"
    orders_table: str = "shopify_orders"


class ShopifyToWarehouseEntry(Integration):
    """A Shopify -> analytics warehouse integration: the common fields, the shop, the table."""

    shopify: ShopifyOptions = ShopifyOptions()
    warehouse: WarehouseOptions = WarehouseOptions()
