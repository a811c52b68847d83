"""The integration catalog: the documented list of what connects to what, and its owners."""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, model_validator

from integrations_pipelines.vendors.shopify.client import DEFAULT_API_VERSION


class ScheduleSpec(BaseModel):
    """When the nightly sync runs (in the integration's timezone)."""

    model_config = ConfigDict(extra="forbid")
    hour: int = 2
    minute: int = 0


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


class ChangeCaptureOptions(BaseModel):
    """The polling path for changes after the day closes (refunds, cancellations, edits).

    Every `delay_minutes` the change sensor asks the source what changed since the cursor
    and, if anything did (or the cursor has not moved for `heartbeat_minutes`), launches one
    run for the whole batch. A window ends `lag_seconds` before now and the next one starts
    `overlap_seconds` before the cursor, so a change that became visible late (a long
    transaction at the source, clock skew) is still read; a re-read is harmless. The change
    feed's freshness fails when nothing advanced the cursor for `sla_minutes`. The nightly
    rolling reconciliation re-reads the last `rolling_days` days before yesterday on both
    sides.
    """

    model_config = ConfigDict(extra="forbid")
    delay_minutes: int = 15
    lag_seconds: int = 5
    overlap_seconds: int = 300
    heartbeat_minutes: int = 60
    sla_minutes: int = 180
    rolling_days: int = 60

    @model_validator(mode="after")
    def _sane(self) -> ChangeCaptureOptions:
        if not 0 < self.delay_minutes < self.heartbeat_minutes < self.sla_minutes:
            raise ValueError("change_capture needs 0 < delay_minutes < heartbeat_minutes < "
                             "sla_minutes")
        return self


class WebhookOptions(BaseModel):
    """The push path for changes: vendor webhooks into the receiver's inbox, drained here.

    `enabled` turns on the drain, the QuickBooks change sensor and the webhooks' dead-man
    check (keep it off until the receiver is deployed and subscribed, or the dead-man fires).
    `shopify_connection` / `quickbooks_connection` name the receiver routes
    (`/webhooks/shopify/<connection>`). The drain sensor looks every `drain_seconds`. The
    dead-man compares, over the last `coverage_window_minutes` (ending
    `coverage_grace_minutes` ago), the changes the raw store knows with the deliveries that
    named them: at least `coverage_min_changes` changes and under `coverage_min_share`
    delivered by webhook means deliveries stopped. The inbox warns past
    `inbox_warn_depth` pending deliveries or `inbox_warn_age_minutes` of age. QuickBooks'
    notifications are acted on `settle_seconds` after receipt (our own write's ledger row
    is committed by then); ChangeDataCapture is polled every `cdc_minutes` as their
    safety net.
    """

    model_config = ConfigDict(extra="forbid")
    enabled: bool = False
    shopify_connection: str = "shop"
    quickbooks_connection: str = "books"
    drain_seconds: int = 30
    coverage_window_minutes: int = 60
    coverage_grace_minutes: int = 2
    coverage_min_changes: int = 3
    coverage_min_share: float = 0.5
    inbox_warn_depth: int = 1000
    inbox_warn_age_minutes: int = 15
    settle_seconds: int = 30
    cdc_minutes: int = 60


Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[Weekday, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday",
                                 "saturday", "sunday")


class Integration(BaseModel):
    """One source -> destination integration, its owner and its health expectations."""

    model_config = ConfigDict(extra="forbid")
    name: str
    description: str
    source: str
    destination: str
    owner: str
    owner_email: str
    slack_channel: str
    timezone: str = "UTC"
    partitions_start: date
    schedule: ScheduleSpec
    freshness_sla_hours: int
    expected_daily_volume: int
    # Days with no business by design: the expected-volume check stays green on them.
    quiet_weekdays: list[Weekday] = []
    holidays: list[date] = []
    shopify: ShopifyOptions = ShopifyOptions()
    quickbooks: QuickBooksOptions
    change_capture: ChangeCaptureOptions = ChangeCaptureOptions()
    webhooks: WebhookOptions = WebhookOptions()
    duplicate_policy: Literal["report_only", "void_duplicates"] = "report_only"

    def is_quiet_day(self, day: date) -> bool:
        """A configured holiday, or a weekday the business never trades on (a B2B weekend)."""
        return day in self.holidays or WEEKDAYS[day.weekday()] in self.quiet_weekdays


@cache
def load_catalog() -> dict[str, Integration]:
    """Read catalog.yaml shipped with the package; invalid entries fail loudly at load."""
    text = resources.files("integrations_pipelines").joinpath("catalog.yaml").read_text()
    raw = yaml.safe_load(text)["integrations"]
    return {name: Integration(name=name, **spec) for name, spec in raw.items()}


def integration(name: str) -> Integration:
    """One integration by name."""
    return load_catalog()[name]


def owners(system: str | None = None) -> list[str]:
    """Dagster owners (team and email) of every integration, or of those that read from or
    write to `system`: who hears about an asset shared by several integrations."""
    return sorted({who for entry in load_catalog().values()
                   if system is None or system in (entry.source, entry.destination)
                   for who in (entry.owner, entry.owner_email)})
