"""The Shopify -> QuickBooks pair's catalog entry: how one shop is read and how one
QuickBooks company books its orders (`shopify:`, `quickbooks:` and `duplicate_policy` in
the entry). `catalog.ENTRY_MODELS` names this model for every Shopify -> QuickBooks entry.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from integrations_pipelines.catalog import Integration, entry
from integrations_pipelines.vendors.shopify.options import ShopifyOptions

__all__ = ["QuickBooksOptions", "ShopifyToQuickBooksEntry", "flagship"]


class QuickBooksOptions(BaseModel):
    """How one QuickBooks company books a Shopify order: its items, its tax model, and what
    to do with invoices it already holds under our external key.

    Tax: a US company (`country: US`) taxes lines TAX/NON; with `sales_tax: manual` the
    invoice names `sales_tax_code_id` and carries Shopify's tax amount, with `automated`
    (automated sales tax) QuickBooks picks the code and honours the amount sent. Any other
    country needs a tax code per line: `tax_codes` maps Shopify's combined tax rate of a line
    (e.g. "0.2") to the company's TaxCode id, `untaxed_tax_code_id` books untaxed lines
    (duties, tips, gift cards, untaxed shipping); a rate with no code is a dead letter.
    `existing_invoices`: `conflict` (default) dead-letters and alerts on an invoice with our
    DocNumber that we did not write; `adopt` takes such invoices over deliberately.
    """

    model_config = ConfigDict(extra="forbid")
    sales_item_id: str
    shipping_item_id: str
    gift_card_item_id: str
    duty_item_id: str
    tip_item_id: str
    fee_item_id: str
    country: str = "US"
    sales_tax: Literal["manual", "automated"] = "manual"
    sales_tax_code_id: str | None = None
    tax_codes: dict[str, str] = {}
    untaxed_tax_code_id: str | None = None
    existing_invoices: Literal["conflict", "adopt"] = "conflict"

    @model_validator(mode="after")
    def _tax_model_complete(self) -> QuickBooksOptions:
        if self.country == "US" and self.sales_tax == "manual" and not self.sales_tax_code_id:
            raise ValueError("a US company with manual sales tax needs sales_tax_code_id")
        if self.country != "US" and not self.untaxed_tax_code_id:
            raise ValueError("a non-US company needs untaxed_tax_code_id (and tax_codes)")
        return self


class ShopifyToQuickBooksEntry(Integration):
    """A Shopify -> QuickBooks integration: the common fields and the pair's options.

    `duplicate_policy`: `report_only` (default) classifies duplicate invoices and leaves
    them; `void_duplicates` lets the repair void every copy but the one kept.
    """

    shopify: ShopifyOptions = ShopifyOptions()
    quickbooks: QuickBooksOptions
    duplicate_policy: Literal["report_only", "void_duplicates"] = "report_only"


def flagship(name: str = "shopify_to_quickbooks") -> ShopifyToQuickBooksEntry:
    """The named Shopify -> QuickBooks entry of the catalog."""
    return entry(name, ShopifyToQuickBooksEntry)
