"""Stripe changes after their day, through the Events API: the pair's change feed.

A refund weeks later moves its charge's `amount_refunded`; a dispute closes; a payout is
paid. None of that changes the object's `created`, so the nightly partition never reads it
again, and Stripe objects carry no update time to poll on. Stripe's events do: each names the
change and carries the object as it stood (`data.object`). `capture` lists the events since
the durable cursor (`change_cursors`, feed `stripe.events`) less an overlap a page at a time,
oldest page first (`StripeClient.event_pages`): for each page it keeps each object's newest
state (an event's `created` is the version: an older event never replaces a newer state,
`raw.upsert_newer`), re-loads exactly those objects into the warehouse on the days they
belong to, and only then moves the cursor to the page's newest event; after the last page,
to just before now. Memory holds one page; a run that dies resumes after the last page it
applied (the overlap re-reads that second, which writes nothing: the row already says so).

Events are kept 30 days: a cursor older than that has lost changes for good, which is
reported (`beyond_retention`) so the rolling reconciliation (which re-lists whole days) is
run over the gap. An event's object is rendered in the event's own `api_version`, not the
pinned `Stripe-Version`: events of another version are counted (`other_versions`) and their
objects still go through the same model validation, so a shape change fails loudly as a
dead letter instead of loading wrongly.

Stripe's webhooks are the fast path of the same change: the receiver verifies each
delivery's `Stripe-Signature` and commits the event to its inbox; `drain_deliveries` loads
the waiting ones the same way. A change told by both meets on the warehouse row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.state import cursors
from integrations_pipelines.sync.stripe_extraction import store_changed
from integrations_pipelines.sync.stripe_to_warehouse import load_window
from integrations_pipelines.vendors.contracts import ContractGuard, Screened
from integrations_pipelines.vendors.stripe.client import StripeClient
from integrations_pipelines.vendors.stripe.models import OBJECT_MODELS, Event
from integrations_pipelines.vendors.stripe.records import resource_of
from integrations_pipelines.webhooks.drain import claim, mark

__all__ = ["FEED", "RETENTION", "Captured", "capture", "days_of", "drain_deliveries"]

FEED = "stripe.events"
RETENTION = timedelta(days=30)


@dataclass
class Captured:
    """What one pass over the event feed did."""

    events: int = 0
    objects: int = 0
    stored: int = 0
    dead_lettered: int = 0
    rows_written: int = 0
    days: dict[str, list[str]] = field(default_factory=dict)
    other_versions: int = 0
    beyond_retention: bool = False
    cursor: datetime | None = None


def capture(engine: sa.Engine, warehouse: sa.Engine, client: StripeClient,
            entry: StripeToWarehouseEntry, now: datetime, run_id: str | None, *,
            overlap: timedelta = timedelta(minutes=5), lag: timedelta = timedelta(seconds=5),
            first_look: timedelta = timedelta(days=1)) -> Captured:
    """One pass: events in [cursor - overlap, now - lag) into the raw store and the
    warehouse; the cursor moves to `now - lag` once they are loaded."""
    out = Captured()
    with engine.connect() as conn:
        held = cursors.get(conn, entry.name, FEED)
    until = now - lag
    since = (held.position - overlap) if held else until - first_look
    if since < now - RETENTION:
        out.beyond_retention = True
        since = now - RETENTION
    for page in client.event_pages(since, until):
        _load_events(engine, warehouse, client.contracts, client.api_version, entry, page,
                     run_id, until.date(), out)
        created = [item.instance.created for item in page if item.instance is not None]
        if created:  # the page is applied: a crash from here resumes after it
            with engine.begin() as conn:
                cursors.advance(conn, entry.name, FEED,
                                min(datetime.fromtimestamp(max(created), UTC), until), run_id)
    with engine.begin() as conn:
        cursors.advance(conn, entry.name, FEED, until, run_id)
    out.cursor = until
    return out


def _load_events(engine: sa.Engine, warehouse: sa.Engine, contracts: ContractGuard,
                 api_version: str, entry: StripeToWarehouseEntry,
                 events: Iterable[Screened[Event]], run_id: str | None, today: date,
                 out: Captured) -> None:
    """Each object's newest state among `events` into the raw store, then the warehouse."""
    objects: list[tuple[str, Screened[Any], int]] = []
    newest: dict[str, int] = {}
    for item in events:
        event = item.instance
        out.events += 1
        if event is None:
            continue
        if event.api_version and event.api_version != api_version:
            out.other_versions += 1
        obj = event.data.object
        resource = resource_of(obj)
        if resource is None or newest.get(str(obj.get("id")), -1) > event.created:
            continue
        newest[str(obj.get("id"))] = event.created
        objects.append((resource, contracts.screen_many(
            OBJECT_MODELS[resource], [obj], vendor="stripe", endpoint="events")[0],
            event.created))
    latest = {str(s.payload.get("id")): (r, s, v) for r, s, v in objects
              if newest.get(str(s.payload.get("id"))) == v}
    out.objects += len(latest)
    extracted, touched = store_changed(engine, entry, entry.stripe.account,
                                       list(latest.values()), run_id, today)
    out.stored += extracted.stored
    out.dead_lettered += extracted.dead_lettered
    ids = set(latest)
    for resource, days in sorted(touched.items()):
        out.days[resource] = sorted({*out.days.get(resource, []),
                                     *(d.isoformat() for d in days)})
        for day in sorted(days):
            done = load_window(engine, warehouse, entry, day, day + timedelta(days=1),
                               resources=[resource], only=ids)
            out.rows_written += done.total("written")


def drain_deliveries(engine: sa.Engine, warehouse: sa.Engine, contracts: ContractGuard,
                     api_version: str, entry: StripeToWarehouseEntry, connection: str,
                     run_id: str | None, today: date, limit: int = 1000) -> Captured:
    """Stripe's webhook deliveries waiting in the receiver's inbox (`/webhooks/stripe/
    <connection>`, signature verified there): the same events, the same load. A delivery
    and the feed naming one change meet on the row: written once. The batch is claimed
    with `FOR UPDATE SKIP LOCKED` and marked processed in the same transaction, after its
    objects are loaded: a drain that dies leaves them pending for the next."""
    out = Captured()
    with engine.connect() as conn, conn.begin():
        rows = claim(conn, "stripe", connection, limit)
        events = []
        for row in rows:
            try:
                events.append(contracts.screen_many(Event, [json.loads(row.body)],
                                                    vendor="stripe", endpoint="webhook")[0])
            except ValueError:
                continue
        _load_events(engine, warehouse, contracts, api_version, entry, events, run_id, today,
                     out)
        mark(conn, {row.id: "loaded" for row in rows})
    return out


def days_of(captured: Captured) -> set[date]:
    """Every business day the pass re-loaded."""
    return {date.fromisoformat(d) for days in captured.days.values() for d in days}

