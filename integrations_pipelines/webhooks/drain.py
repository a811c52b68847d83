"""Draining the webhook inbox: Shopify's pushed order changes reach the books in minutes.

The receiver only commits deliveries (`webhooks/app.py`); this module turns them into
invoices, through the very write path the nightly run and the polling change capture use
(`sync/change_capture.resync_changed`: ledger hash, stale-version guard, per-order lock).
A batch of pending deliveries is claimed with `FOR UPDATE SKIP LOCKED`, so two drains never
take the same delivery and a crashed drain's batch returns to `pending` (its transaction
rolls back) to be processed again, harmlessly: the ledger makes every write idempotent.

Per order, the deliveries of a batch are ordered by the vendor's version (`updated_at`),
never by arrival: Shopify delivers out of order and more than once. The newest delivered
version is used as is when it is at least what the raw store already holds; the current
order is read from the API instead when

- the only delivery is a refund (its body is the refund, not the order),
- the order was never extracted (a cancellation that arrives before its order), or
- the newest delivery is older than what we hold (a late redelivery).

An order that Shopify no longer has is noted on its deliveries and written nowhere. An order
that does not fit our model is dead-lettered with its reason, like at night. A change the
webhook and the polling path both see meets on the ledger: written once, `unchanged` the
second time.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.state import raw
from integrations_pipelines.state.tables import webhook_inbox
from integrations_pipelines.sync.change_capture import ResyncOutcome, resync_changed
from integrations_pipelines.sync.engine import RecordSync
from integrations_pipelines.sync.extraction import ExtractionOutcome, store_changed_orders
from integrations_pipelines.vendors.contracts import Screened
from integrations_pipelines.vendors.shopify.client import ShopifyClient
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, business_date
from integrations_pipelines.vendors.shopify.webhooks import ORDER_TOPICS
from integrations_pipelines.webhooks.inbox import PENDING, PROCESSED

__all__ = ["DrainOutcome", "InboxState", "claim", "drain_shopify", "inbox_state"]

BATCH = 250  # deliveries per claim: one `orders.json?ids=` request re-reads them all


@dataclass
class DrainOutcome:
    """What one drain did: deliveries taken, orders re-read or gone, and the re-sync."""

    deliveries: int = 0
    batches: int = 0
    orders: int = 0
    reread: int = 0
    gone: int = 0
    extraction: ExtractionOutcome = field(default_factory=ExtractionOutcome)
    changes: ResyncOutcome = field(default_factory=ResyncOutcome)


@dataclass(frozen=True)
class InboxState:
    """How far behind the inbox is: what waits, and since when."""

    pending: int
    oldest_pending: datetime | None
    malformed: int
    ignored: int

    def oldest_age_seconds(self, now: datetime) -> float:
        return (now - self.oldest_pending).total_seconds() if self.oldest_pending else 0.0


def inbox_state(conn: sa.Connection, vendor: str, connection: str) -> InboxState:
    """Pending depth and age, and the deliveries no one will process (malformed, ignored)."""
    inbox = webhook_inbox.c
    row = conn.execute(sa.select(
        sa.func.count().filter(inbox.status == PENDING),
        sa.func.min(inbox.received_at).filter(inbox.status == PENDING),
        sa.func.count().filter(inbox.status == "malformed"),
        sa.func.count().filter(inbox.status == "ignored"),
    ).where(inbox.vendor == vendor, inbox.connection == connection)).one()
    return InboxState(pending=row[0], oldest_pending=row[1], malformed=row[2], ignored=row[3])


def claim(conn: sa.Connection, vendor: str, connection: str, limit: int,
          received_before: datetime | None = None) -> list[sa.Row[Any]]:
    """Lock up to `limit` pending deliveries no other drain holds, oldest first."""
    inbox = webhook_inbox.c
    query = (sa.select(webhook_inbox)
             .where(inbox.status == PENDING, inbox.vendor == vendor,
                    inbox.connection == connection)
             .order_by(inbox.id).limit(limit).with_for_update(skip_locked=True))
    if received_before is not None:
        query = query.where(inbox.received_at < received_before)
    return list(conn.execute(query))


def mark(conn: sa.Connection, outcomes: dict[int, str]) -> None:
    """Record what processing did with each delivery; it will not be processed again."""
    if not outcomes:
        return
    now = datetime.now(UTC)
    conn.execute(
        webhook_inbox.update().where(webhook_inbox.c.id == sa.bindparam("row_id"))
        .values(status=PROCESSED, processed_at=now, outcome=sa.bindparam("what")),
        [{"row_id": row_id, "what": what} for row_id, what in outcomes.items()])


def _version(payload: dict[str, Any]) -> datetime | None:
    text = payload.get("updated_at")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")) \
            if isinstance(text, str) else None
    except ValueError:
        return None


def drain_shopify(engine: sa.Engine, shopify: ShopifyClient, sync: RecordSync[Order, Any], *,
                  connection: str, first_open_day: date,
                  run_id: str | None, batch: int = BATCH,
                  max_batches: int = 40) -> DrainOutcome:
    """Process pending Shopify deliveries of one connection, batch after batch, until none
    are left (or `max_batches`, so one run never holds the daemon forever)."""
    outcome = DrainOutcome()
    for _ in range(max_batches):
        with engine.connect() as conn, conn.begin():
            rows = claim(conn, "shopify", connection, batch)
            if not rows:
                break
            outcome.batches += 1
            outcome.deliveries += len(rows)
            mark(conn, _process(engine, shopify, sync, rows, first_open_day,
                                run_id, outcome))
    return outcome


def _process(engine: sa.Engine, shopify: ShopifyClient, sync: RecordSync[Order, Any],
             rows: list[sa.Row[Any]], first_open_day: date,
             run_id: str | None, outcome: DrainOutcome) -> dict[int, str]:
    """One claimed batch: the newest version of each order, stored and re-synced."""
    integration = sync.integration
    by_order: dict[str, list[sa.Row[Any]]] = defaultdict(list)
    outcomes: dict[int, str] = {}
    for row in rows:
        if row.record_id is None:
            outcomes[row.id] = "the body names no order (no id / order_id): nothing to sync"
        else:
            by_order[row.record_id].append(row)
    if not by_order:
        return outcomes
    with engine.connect() as conn:
        held = {r.record_key: r.version for r in raw.records_by_key(conn, ORDERS, list(by_order))}
    delivered: list[dict[str, Any]] = []
    reread: list[int] = []
    for order_id, deliveries in by_order.items():
        newest = _newest_order_body(deliveries)
        version = _version(newest) if newest is not None else None
        if newest is None or order_id not in held or version is None \
                or version < held[order_id]:
            if order_id.isdigit():
                reread.append(int(order_id))
        else:
            delivered.append(newest)
    screened: list[Screened[Order]] = list(shopify.contracts.screen_many(
        Order, delivered, vendor="shopify", endpoint="webhooks.orders"))
    fetched = list(shopify.iter_orders_by_id(reread)) if reread else []
    found = {str(s.payload.get("id")) for s in fetched if isinstance(s.payload, dict)}
    outcome.orders += len(by_order)
    outcome.reread += len(reread)
    extraction, changed = store_changed_orders(engine, integration, first_open_day,
                                               [*screened, *fetched], run_id)
    _add(outcome.extraction, extraction)
    resync_changed(sync, changed, first_open_day, outcome.changes)
    valid = {str(order.id): order for order, _ in changed}
    for order_id, deliveries in by_order.items():
        what = _order_outcome(order_id, valid.get(order_id), order_id in found,
                              int(order_id) in reread if order_id.isdigit() else False,
                              first_open_day, integration)
        if what == "gone":
            outcome.gone += 1
            what = "the order no longer exists in Shopify: nothing written"
        for row in deliveries:
            outcomes[row.id] = what
    return outcomes


def _newest_order_body(deliveries: list[sa.Row[Any]]) -> dict[str, Any] | None:
    """The delivered order body with the highest `updated_at` (refunds carry no order)."""
    bodies = []
    for row in deliveries:
        if row.topic not in ORDER_TOPICS:
            continue
        try:
            body = json.loads(row.body)
        except ValueError:
            continue
        if isinstance(body, dict):
            bodies.append(body)
    if not bodies:
        return None
    return max(bodies, key=lambda b: _version(b) or datetime.min.replace(tzinfo=UTC))


def _order_outcome(order_id: str, order: Order | None, found: bool, reread: bool,
                   first_open_day: date, integration: Integration) -> str:
    source = "re-read from Shopify" if reread else "as delivered"
    if order is None:
        if reread and not found:
            return "gone"
        return f"dead-lettered ({source}): the order does not fit our model or storage"
    day = business_date(order, integration.timezone)
    if day >= first_open_day:
        return f"stored ({source}, version {order.updated_at.isoformat()}); its day is " \
            "still open: tonight's run books it"
    if day < integration.partitions_start:
        return f"stored ({source}); created before the integration's first partition"
    return f"re-synced ({source}, version {order.updated_at.isoformat()}, day {day})"


def _add(total: ExtractionOutcome, part: ExtractionOutcome) -> None:
    total.extracted += part.extracted
    total.stored += part.stored
    total.invalid += part.invalid
    total.unstorable += part.unstorable
