"""The integration catalog: the documented list of what connects to what, and its owners.

`Integration` holds what every pair has (owner, channel, timezone, schedule, freshness,
volume, change capture, webhooks). A pair's own options (its items, tax model, policies)
are fields of its entry model, a subclass of `Integration` that lives with the pair and is
named in `ENTRY_MODELS` by (source, destination); an entry of a pair without one is a plain
`Integration`. Both are validated when the catalog loads: a typo fails loudly.
"""

from __future__ import annotations

import importlib
from datetime import date
from functools import cache
from importlib import resources
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from integrations_pipelines.settings import partitions_start_override

__all__ = [
    "ENTRY_MODELS",
    "ChangeCaptureOptions",
    "Integration",
    "ScheduleSpec",
    "WebhookOptions",
    "as_entry",
    "entry",
    "integration",
    "load_catalog",
    "owners",
]

# The entry model of each pair, "module:Class", imported when the catalog loads (a string,
# so the catalog, below every pair, imports none of them statically).
ENTRY_MODELS: dict[tuple[str, str], str] = {
    ("shopify", "quickbooks"):
        "integrations_pipelines.mapping.shopify_to_quickbooks_entry:ShopifyToQuickBooksEntry",
    ("shopify", "warehouse"):
        "integrations_pipelines.mapping.shopify_to_warehouse_entry:ShopifyToWarehouseEntry",
    ("stripe", "warehouse"):
        "integrations_pipelines.mapping.stripe_to_warehouse_entry:StripeToWarehouseEntry",
    ("shopify", "xero"): "integrations_pipelines.mapping.shopify_to_xero_entry:ShopifyToXeroEntry",
}

class ScheduleSpec(BaseModel):
    """When the nightly sync runs (in the integration's timezone)."""

    model_config = ConfigDict(extra="forbid")
    hour: int = 2
    minute: int = 0


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
    change_capture: ChangeCaptureOptions = ChangeCaptureOptions()
    webhooks: WebhookOptions = WebhookOptions()
    # Days one backfill run covers. 1 (the default): a run per day, so every day's figures are
    # its own in the UI and a run holds one day's records, whatever the backfill's length;
    # the vendor's rate limit, not Dagster's per-run cost, bounds a backfill anyway.
    backfill_days_per_run: int = Field(default=1, ge=1, le=31)
    # Where another pair reads or writes the same account, this pair's system assets take
    # its name as a key prefix (`<name>/shopify/orders`): one asset, one writer.
    prefix_asset_keys: bool = False

    def system_key(self, system: str, record: str) -> list[str]:
        """The asset key path of this pair's `system` records (see `prefix_asset_keys`)."""
        return [self.name, system, record] if self.prefix_asset_keys else [system, record]

    def is_quiet_day(self, day: date) -> bool:
        """A configured holiday, or a weekday the business never trades on (a B2B weekend)."""
        return day in self.holidays or WEEKDAYS[day.weekday()] in self.quiet_weekdays


def load_catalog() -> dict[str, Integration]:
    """Read catalog.yaml shipped with the package; invalid entries fail loudly at load.
    With INTEGRATIONS_PARTITIONS_START set (`dev` sets it), no entry's partitions start
    before that day (settings.partitions_start_override); read on every call, so the
    catalog follows the environment of the process that uses it."""
    return _catalog(partitions_start_override())


@cache
def _catalog(first_day: date | None) -> dict[str, Integration]:
    text = resources.files("integrations_pipelines").joinpath("catalog.yaml").read_text()
    raw = yaml.safe_load(text)["integrations"]
    found = {name: _entry_model(spec)(name=name, **spec) for name, spec in raw.items()}
    if first_day is None:
        return found
    return {name: entry.model_copy(update={"partitions_start": first_day})
            if entry.partitions_start < first_day else entry
            for name, entry in found.items()}


def _entry_model(spec: dict[str, object]) -> type[Integration]:
    path = ENTRY_MODELS.get((str(spec.get("source")), str(spec.get("destination"))))
    if path is None:
        return Integration
    module, _, attribute = path.partition(":")
    model: type[Integration] = getattr(importlib.import_module(module), attribute)
    return model


def integration(name: str) -> Integration:
    """One integration by name."""
    return load_catalog()[name]


EntryT = TypeVar("EntryT", bound=Integration)


def entry(name: str, model: type[EntryT]) -> EntryT:
    """One integration by name, as its pair's entry model (a pair reads its own options)."""
    return as_entry(integration(name), model)


def as_entry(found: Integration, model: type[EntryT]) -> EntryT:
    """A loaded entry as its pair's entry model; any other model fails loudly (the entry's
    source and destination name another pair, see ENTRY_MODELS)."""
    if not isinstance(found, model):
        raise TypeError(f"catalog entry {found.name!r} is a {type(found).__name__}, not a "
                        f"{model.__name__}: its source and destination name another pair")
    return found


def owners(system: str | None = None) -> list[str]:
    """Dagster owners (team and email) of every integration, or of those that read from or
    write to `system`: who hears about an asset shared by several integrations."""
    return sorted({who for entry in load_catalog().values()
                   if system is None or system in (entry.source, entry.destination)
                   for who in (entry.owner, entry.owner_email)})
