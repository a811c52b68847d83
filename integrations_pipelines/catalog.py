"""The integration catalog: the documented list of what connects to what, and its owners."""

from __future__ import annotations

from datetime import date
from functools import cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict


class ScheduleSpec(BaseModel):
    """When the nightly sync runs (in the integration's timezone)."""

    model_config = ConfigDict(extra="forbid")
    hour: int = 2
    minute: int = 0


class QuickBooksItems(BaseModel):
    """The QuickBooks products/services that invoice lines are booked against."""

    model_config = ConfigDict(extra="forbid")
    sales_item_id: str
    shipping_item_id: str
    refund_item_id: str


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
    quickbooks: QuickBooksItems
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
