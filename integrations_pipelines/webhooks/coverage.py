"""The webhooks' dead-man switch: do the changes we know of arrive by webhook too?

Webhooks stop silently: the subscription was removed (Shopify drops one after repeated
failed deliveries), the receiver is down or unreachable, a secret was rotated on one side
only (every delivery then answers 401). The polling path keeps the books right meanwhile,
so nothing looks wrong until the fast path is needed. This compares the two paths: every
order whose current version (`updated_at`, the `version` of its row in the raw store,
whichever path stored it) falls in the window should have at least one delivery naming that
order at that version or later.
When most of them have none, deliveries have stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from integrations_pipelines.state.raw import RecordKind, of_kind
from integrations_pipelines.state.tables import raw_records, webhook_inbox
from integrations_pipelines.vendors.shopify.records import ORDERS

__all__ = ["Coverage", "webhook_coverage"]

CLOCK_SLACK = timedelta(seconds=1)  # Shopify stamps a refund and its order's update apart


@dataclass(frozen=True)
class Coverage:
    """Changes seen in a window, and how many of them no webhook delivered."""

    since: datetime
    until: datetime
    changed: int
    undelivered: int
    examples: tuple[str, ...]

    @property
    def delivered_share(self) -> float:
        return 1.0 if not self.changed else (self.changed - self.undelivered) / self.changed


def webhook_coverage(conn: sa.Connection, *, since: datetime, until: datetime,
                     examples: int = 10, kind: RecordKind = ORDERS,
                     connection: str | None = None) -> Coverage:
    """Orders (of the shop `kind`) changed in [since, until) and those without a Shopify
    delivery for them.

    Changes from before the first delivery the receiver ever stored (for `connection`, the
    route's shop, when given) are not counted: they happened before the subscription
    existed (a first start, a new install), so no webhook could name them, and counting
    them warned on every first day. With no delivery stored at all every change counts: a
    subscription that never delivered is what the switch is for."""
    orders, inbox = raw_records.c, webhook_inbox.c
    first = conn.execute(sa.select(sa.func.min(inbox.received_at)).where(
        inbox.vendor == kind.system,
        *([inbox.connection == connection] if connection is not None else []))).scalar()
    if first is not None:
        since = min(max(since, first - CLOCK_SLACK), until)
    delivered = sa.exists().where(
        inbox.vendor == kind.system,
        inbox.record_id == orders.record_key,
        sa.or_(inbox.record_version >= orders.version - CLOCK_SLACK,
               sa.and_(inbox.record_version.is_(None),
                       inbox.received_at >= orders.version - CLOCK_SLACK)))
    window = sa.and_(of_kind(kind), orders.version >= since, orders.version < until)
    changed, undelivered = conn.execute(sa.select(
        sa.func.count(), sa.func.count().filter(~delivered)).select_from(raw_records)
        .where(window)).one()
    missing = conn.execute(sa.select(orders.record_key).where(window, ~delivered)
                           .order_by(orders.version.desc()).limit(examples)).scalars()
    return Coverage(since, until, changed, undelivered, tuple(missing))
