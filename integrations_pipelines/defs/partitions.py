"""Daily partitions per integration, from the catalog (start date and timezone; `dev` moves
the start to its first seeded day through INTEGRATIONS_PARTITIONS_START, see catalog.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

import dagster as dg

from integrations_pipelines.catalog import Integration

__all__ = ["Window", "daily_partitions", "run_window"]


def daily_partitions(integration: Integration) -> dg.DailyPartitionsDefinition:
    """One partition per business day; today's is never a partition until it is over. The
    same object for every asset, job and check of an integration (the UI and the
    backfill planner compare them)."""
    return _daily(integration.partitions_start, integration.timezone)


@cache
def _daily(start: date, timezone: str) -> dg.DailyPartitionsDefinition:
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), timezone=timezone)


@dataclass(frozen=True)
class Window:
    """The business days a run covers, [start, end): one partition or a backfill range."""

    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def end_day(self) -> date:
        return self.end.date()

    @property
    def label(self) -> str:
        return f"{self.first_day.isoformat()}..{self.end_day.isoformat()}"


def run_window(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> Window:
    """The time window of the partition (or partition range) being materialized."""
    window = context.partition_time_window
    return Window(window.start, window.end)
