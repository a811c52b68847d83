"""The Shopify -> Xero pair's catalog entry: how one shop is read and how one Xero
organisation books its orders (`shopify:` and `xero:` in the entry). `catalog.ENTRY_MODELS`
names this model for every Shopify -> Xero entry."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from integrations_pipelines.catalog import Integration, entry
from integrations_pipelines.vendors.shopify.options import ShopifyOptions

__all__ = ["ShopifyToXeroEntry", "XeroOptions", "xero_entry"]

UK_VAT = {"0.2": "OUTPUT2", "0.05": "RROUTPUT", "0": "ZERORATEDOUTPUT"}


class XeroOptions(BaseModel):
    """How one Xero organisation books a Shopify order: its accounts, its VAT and its
    clearing account.

    Accounts (codes of the organisation's chart): goods to `sales_account`, shipping to
    `shipping_account`, gift-card sales to `gift_card_account` (a liability under
    `shopify.gift_cards: liability_item`), duties, tips and additional fees to theirs.
    VAT: `tax_types` maps Shopify's combined tax rate of a line ("0.2") to the Xero tax type
    (UK: OUTPUT2 standard 20%, RROUTPUT reduced 5%, ZERORATEDOUTPUT zero-rated); a taxable
    line without a tax line (an exempt product) takes `untaxed_tax_type` (EXEMPTOUTPUT),
    and what is outside VAT (gift-card sales, tips) `outside_tax_type` (NONE); a rate with
    no tax type is a dead letter. Paid orders are paid into `clearing_account` (a bank
    account with payments enabled, where Shopify's payouts are reconciled).
    `existing_invoices`: `conflict` dead-letters an invoice with our number that we did not
    write; `adopt` takes it over deliberately.
    Changes in the books (a bookkeeper's edit): Xero's webhooks arrive at the receiver's
    `/webhooks/xero/<webhook_connection>`, and every `books_changes_minutes` (0: never) the
    invoices and credit notes modified since the last look are read with
    `If-Modified-Since`; a day with an invoice someone else changed is run again by the
    nightly job (read back, reconciled, alerted), or by the repair job when
    `repair_changed_books` says so.
    """

    model_config = ConfigDict(extra="forbid")
    sales_account: str = "200"
    shipping_account: str = "200"
    gift_card_account: str = "835"
    duty_account: str = "200"
    tip_account: str = "260"
    fee_account: str = "260"
    clearing_account: str = "090"
    tax_types: dict[str, str] = UK_VAT
    untaxed_tax_type: str = "EXEMPTOUTPUT"
    outside_tax_type: str = "NONE"
    existing_invoices: Literal["conflict", "adopt"] = "conflict"
    webhook_connection: str = "default"
    books_changes_minutes: int = 15
    repair_changed_books: bool = False

    @model_validator(mode="after")
    def _rates_are_fractions(self) -> XeroOptions:
        for rate in self.tax_types:
            if not 0 <= float(rate) < 1:
                raise ValueError(f"xero.tax_types keys are Shopify's rates as fractions "
                                 f"(\"0.2\"), not {rate!r}")
        return self


class ShopifyToXeroEntry(Integration):
    """A Shopify -> Xero integration: the common fields and the pair's options."""

    shopify: ShopifyOptions = ShopifyOptions()
    xero: XeroOptions = XeroOptions()


def xero_entry(name: str) -> ShopifyToXeroEntry:
    """The named Shopify -> Xero entry of the catalog."""
    return entry(name, ShopifyToXeroEntry)
