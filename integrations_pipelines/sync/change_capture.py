"""Change capture, the polling path: orders that changed after their day closed reach the books.

A refund weeks after the sale, a cancellation, an edit: Shopify moves the order's
`updated_at`, not its `created_at`, so the nightly extraction of the creation day never sees
it again. Here the change feed (`orders.json?status=any&updated_at_min=&updated_at_max=`) is
read from a durable cursor (`state/cursors.py`) to a moment just behind now; every changed
order is stored in the raw store (newest version kept, bad ones dead-lettered like at night)
and re-synced through the same idempotent write path as the nightly run (the pair's
`RecordSync`, given by the caller: ledger hash, stale-version guard, per-order lock). The
cursor moves only after all of that succeeded, so a failed capture is repeated, never
skipped.

Only orders of closed, partitioned days are re-synced here: an order created today is left to
tonight's run (its partition does not exist yet), and one created before the integration's
first partition was never booked by it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.state import cursors
from integrations_pipelines.sync.engine import RecordSync, SyncOutcome
from integrations_pipelines.sync.extraction import ExtractionOutcome, store_changed_orders
from integrations_pipelines.vendors.shopify.client import ShopifyClient
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import business_date

__all__ = ["FEED", "CaptureOutcome", "ResyncOutcome", "capture_changes", "capture_window",
           "resync_changed"]

FEED = "shopify.orders.updated_at"


@dataclass
class ResyncOutcome:
    """Per creation day, what re-syncing changed orders did; and the orders left alone."""

    by_day: dict[date, SyncOutcome] = field(default_factory=dict)
    left_for_tonight: int = 0
    before_first_partition: int = 0

    @property
    def resynced(self) -> int:
        return sum(o.processed for o in self.by_day.values())

    def total(self, name: str) -> int:
        """One count (`updated`, `created`, `voided`, `unchanged`, ...) over every day."""
        return sum(getattr(o, name) for o in self.by_day.values())


@dataclass
class CaptureOutcome:
    """What one capture read and wrote: the window, the extraction, and the re-sync."""

    since: datetime
    until: datetime
    extraction: ExtractionOutcome
    changes: ResyncOutcome = field(default_factory=ResyncOutcome)


def resync_changed(sync: RecordSync[Order, Any], changed: list[tuple[Order, dict[str, Any]]],
                   first_open_day: date, outcome: ResyncOutcome) -> None:
    """Re-sync changed orders day by day through the nightly write path (ledger hash,
    stale-version guard, per-order lock): the one write path both change paths share, so an
    order reported by a webhook and by the change feed is written once and then `unchanged`.
    Orders of `first_open_day` or later are tonight's run's; those before the first partition
    were never booked by this integration. `sync` is the pair's binding (its destination
    and mapping)."""
    integration = sync.integration
    days: dict[date, list[tuple[Order, dict[str, Any]]]] = defaultdict(list)
    for order, payload in changed:
        day = business_date(order, integration.timezone)
        if day >= first_open_day:
            outcome.left_for_tonight += 1
        elif day < integration.partitions_start:
            outcome.before_first_partition += 1
        else:
            days[day].append((order, payload))
    for day in sorted(days):
        outcome.by_day[day] = sync.run(days[day])


def capture_window(conn: sa.Connection, integration: Integration,
                   now: datetime) -> tuple[datetime, datetime]:
    """[since, until] of the next capture: from the cursor (less the overlap) to now less the
    source's lag. Before the first capture the feed starts a day back: older changes are the
    rolling reconciliation's."""
    options = integration.change_capture
    cursor = cursors.get(conn, integration.name, FEED)
    start = cursor.position if cursor else now - timedelta(days=1)
    return (start - timedelta(seconds=options.overlap_seconds),
            now - timedelta(seconds=options.lag_seconds))


def capture_changes(engine: sa.Engine, shopify: ShopifyClient, sync: RecordSync[Order, Any], *,
                    now: datetime, first_open_day: date, run_id: str | None) -> CaptureOutcome:
    """Read the change feed from the cursor, store and re-sync what changed, then advance.

    `first_open_day`: the first creation day without a partition yet (today, in the
    integration's timezone); its orders are left to tonight's run. `sync`: the pair's
    binding, whose integration's cursor this is.
    """
    integration = sync.integration
    with engine.connect() as conn:
        since, until = capture_window(conn, integration, now)
    extraction, changed = store_changed_orders(
        engine, integration, first_open_day,
        shopify.iter_changed_orders(updated_at_min=since, updated_at_max=until), run_id)
    outcome = CaptureOutcome(since, until, extraction)
    resync_changed(sync, changed, first_open_day, outcome.changes)
    with engine.begin() as conn:
        cursors.advance(conn, integration.name, FEED, until, run_id)
    return outcome
