"""The Stripe -> warehouse load: the raw store's Stripe objects into typed warehouse tables.

A window's objects are read from the raw store a chunk at a time (`raw.window_chunks`), made
rows (`mapping/stripe_to_warehouse.py`) and merged into their table with COPY + MERGE
(`vendors/warehouse/merge.py`), one transaction per chunk: a re-load of an unchanged day
writes no row, a changed object updates its row. A balance transaction's `payout_id` comes
from the payout listings the raw store holds (`payout_items`, any day), and a payout's
listing also sets it on the older rows it paid. An object whose row cannot be made, or that
the table refuses, is a dead letter with the reason; an object loaded later resolves it.
Nothing here holds a ledger row per object: the warehouse row states the version it holds
(`source_version`), which the reconciliation reads to tell a stale row from a wrong one.

The schema is the pair's migrations, applied once (`ensure_schema`); `rebuild_daily_revenue`
brings the `daily_revenue` model of the window up to date in SQL (one MERGE).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.mapping.stripe_to_warehouse import (
    daily_revenue_sql,
    migrations,
    row_of,
    tables,
)
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.state import raw
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.vendors.stripe.records import OBJECTS, PAYOUT_ITEMS, kind
from integrations_pipelines.vendors.warehouse.merge import Merged, MergeLoader
from integrations_pipelines.vendors.warehouse.migrations import migrate

__all__ = ["CHUNK", "Loaded", "Pending", "ensure_schema", "link_payouts", "load_window",
           "pending", "rebuild_daily_revenue", "table_loader", "written_since"]

CHUNK = 5000


@dataclass
class Loaded:
    """What a load of a window did, per Stripe list."""

    by_resource: dict[str, Merged] = field(default_factory=dict)
    dead_lettered: int = 0
    payout_links: int = 0

    def total(self, attribute: str) -> int:
        return sum(int(getattr(m, attribute)) for m in self.by_resource.values())


def ensure_schema(warehouse: sa.Engine, entry: StripeToWarehouseEntry) -> list[str]:
    """Apply the pair's pending warehouse migrations (none: one read, no DDL)."""
    return migrate(warehouse, entry.warehouse.schema_name,
                   migrations(entry.warehouse.table_prefix))


def table_loader(entry: StripeToWarehouseEntry, resource: str) -> MergeLoader:
    """The loader of one Stripe list's table. The version is no reason to write: the nightly
    listing states an object at its `created`, the event feed at the event's time, and the
    same values are the same row (a re-load writes nothing; changed values carry their
    version along)."""
    return MergeLoader(tables(entry)[resource], uncompared=("loaded_at", "source_version"))


def _payouts_of(conn: sa.Connection, account: str, txn_ids: list[str]) -> dict[str, str]:
    return {r.record_key: str(r.external_key)
            for r in raw.records_by_key(conn, kind(PAYOUT_ITEMS, account), txn_ids)}


def load_window(engine: sa.Engine, warehouse: sa.Engine, entry: StripeToWarehouseEntry,
                start: date, end: date, resources: Collection[str] = OBJECTS,
                only: Collection[str] | None = None) -> Loaded:
    """Load the stored objects of business days [start, end) (only the ids in `only`, if
    given) into their tables; then set the window's payouts on the rows they paid."""
    account = entry.stripe.account
    out = Loaded()
    loaded_ids: list[str] = []
    with warehouse.connect() as wconn, engine.connect() as conn:
        for resource in resources:
            loader = table_loader(entry, resource)
            merged = Merged()
            for chunk in raw.window_chunks(engine, kind(resource, account), start, end, CHUNK):
                records = [r for r in chunk if only is None or r.record_key in only]
                payouts = _payouts_of(conn, account, [r.record_key for r in records]) \
                    if resource == "balance_transactions" else {}
                rows, letters = [], []
                for record in records:
                    try:
                        row = row_of(resource, record.payload, entry.timezone, record.version)
                    except (KeyError, TypeError, ValueError) as exc:
                        letters.append(_letter(entry, record, "unmappable",
                                               f"{resource} object has no row: "
                                               f"{type(exc).__name__}: {exc}"))
                        continue
                    if resource == "balance_transactions":
                        row["payout_id"] = payouts.get(record.record_key)
                    rows.append(row)
                result = loader.load(wconn, rows)
                wconn.commit()
                refused = {str(row["id"]) for row, _ in result.refused}
                letters += [_letter(entry, r, "warehouse_rejected_value", why)
                            for r in records for row, why in result.refused
                            if r.record_key == row["id"]]
                for letter in letters:
                    dead_letters.record(conn, letter)
                loaded_ids += [str(row["id"]) for row in rows if str(row["id"]) not in refused]
                out.dead_lettered += len(letters)
                merged.add(result)
            out.by_resource[resource] = merged
        _resolve(conn, entry.name, loaded_ids)
        conn.commit()
        if "payouts" in resources:
            out.payout_links = link_payouts(conn, wconn, entry, start, end)
            wconn.commit()
    return out


def _letter(entry: Integration, record: raw.StoredRecord, code: str,
            reason: str) -> dead_letters.DeadLetter:
    return dead_letters.DeadLetter(
        integration=entry.name, source_id=record.record_key,
        business_date=record.business_date, stage="load", reason_code=code,
        reason=reason[:4000], payload=record.payload)


def _resolve(conn: sa.Connection, integration: str, loaded: list[str]) -> None:
    """Close the open letters of objects that are rows now."""
    if not loaded:
        return
    wanted = set(loaded)
    for letter in dead_letters.open_letters(conn, integration):
        if letter.source_id in wanted:
            dead_letters.resolve(conn, integration, letter.source_id)


def link_payouts(conn: sa.Connection, wconn: sa.Connection, entry: StripeToWarehouseEntry,
                 start: date, end: date) -> int:
    """Set `payout_id` on every balance transaction the window's payouts paid (whatever the
    transaction's day); returns the rows changed."""
    items = raw.window(conn, kind(PAYOUT_ITEMS, entry.stripe.account), start, end)
    if not items:
        return 0
    table = tables(entry)["balance_transactions"]
    pairs = sa.values(sa.column("txn", sa.Text), sa.column("payout", sa.Text),
                      name="links").data([(i.record_key, str(i.external_key)) for i in items])
    changed = wconn.execute(
        table.update().where(table.c.id == pairs.c.txn,
                             table.c.payout_id.is_distinct_from(pairs.c.payout))
        .values(payout_id=pairs.c.payout))
    return int(changed.rowcount)


@dataclass(frozen=True)
class Pending:
    """Objects of the window with neither a row nor an open dead letter (whether a row is
    current is the reconciliation's verdict: `stale`, `wrong_values`)."""

    objects: int
    loaded: int
    dead_lettered: int
    pending: list[str]


def pending(conn: sa.Connection, wconn: sa.Connection, entry: StripeToWarehouseEntry,
            start: date, end: date) -> Pending:
    """Every stored object of the window is a row or has an open dead letter; the rest are
    pending (the accounted check)."""
    letters = {r.source_id for r in dead_letters.open_letters(conn, entry.name)}
    objects = loaded = lettered = 0
    missing: list[str] = []
    for resource, table in tables(entry).items():
        stored = [r.record_key for r in
                  raw.window(conn, kind(resource, entry.stripe.account), start, end)]
        rows = set(wconn.execute(sa.select(table.c.id).where(table.c.id.in_(list(stored))))
                   .scalars()) if stored else set()
        for key in stored:
            objects += 1
            if key in rows:
                loaded += 1
            elif key in letters:
                lettered += 1
            else:
                missing.append(key)
    return Pending(objects, loaded, lettered, sorted(missing))


def written_since(wconn: sa.Connection, entry: StripeToWarehouseEntry, resource: str,
                  start: date, end: date, since: datetime) -> int:
    """The window's rows of one table written (inserted or changed: a write sets
    `loaded_at`, an unchanged row keeps its own) at or after `since`."""
    t = tables(entry)[resource]
    return int(wconn.execute(sa.select(sa.func.count()).select_from(t).where(
        t.c.business_date >= start, t.c.business_date < end,
        t.c.loaded_at >= since)).scalar_one())


def rebuild_daily_revenue(warehouse: sa.Engine, entry: StripeToWarehouseEntry, start: date,
                          end: date) -> int:
    """Make the `daily_revenue` rows of business days [start, end) what the balance
    transactions say; returns the rows written (none when they already did)."""
    with warehouse.begin() as conn:
        return int(conn.execute(sa.text(daily_revenue_sql(entry)),
                                {"start": start, "end": end}).rowcount)
