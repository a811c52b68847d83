"""The Stripe -> warehouse judge: what Stripe states about its objects and its money, and
what the warehouse holds, compared independently of the load.

Three verdicts over a window of business days:

- `reconcile`: every object Stripe returned for the window (the raw store, as Stripe sent
  it) against the warehouse rows of the window, through the shared engine: `missing` (no
  row, no dead letter), `extra` (a row Stripe does not have), `wrong_values` (amount,
  currency, status, fee, net, amount refunded, type differ), `stale` (the row holds an
  older version of an object that changed since, e.g. a refund after the day), `duplicate`,
  each with its likely cause. Both sides are read raw: the payload's own fields against the
  table's columns, never the pair's mapping.
- `payout_balances`: for every paid automatic payout of the window, the `net` of the balance
  transactions Stripe listed for it sums to its `amount` in Stripe, and the warehouse's
  transactions carrying that `payout_id` sum to the warehouse payout's `amount`, which equals
  Stripe's. A payout groups transactions of earlier days: one whose transactions of other
  days are not in the warehouse yet (those days not loaded) is pending, with the days, and
  judged once they are; a transaction of the window's own days that is missing is judged.
- `category_totals`: per day, balance currency and reporting category, the sums of `amount`,
  `fee` and `net` and the count of Stripe's balance transactions equal the warehouse's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.mapping.stripe_to_warehouse import tables
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.reconciliation import frames
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.reconciliation.window import WindowReconciliation, reconcile_window
from integrations_pipelines.state import raw
from integrations_pipelines.state.tables import dead_letters
from integrations_pipelines.vendors.stripe.records import OBJECTS, PAYOUT_ITEMS, kind

__all__ = ["FIELDS", "LABELS", "PayoutBalance", "Totals", "category_totals",
           "payout_balances", "reconcile"]

FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("object", "text"), FieldSpec("currency", "currency"), FieldSpec("amount", "int"),
    FieldSpec("fee", "int"), FieldSpec("net", "int"), FieldSpec("amount_refunded", "int"),
    FieldSpec("status", "text"), FieldSpec("type", "text"),
)
LABELS = frames.SideLabels(source="stripe", source_record="object", destination="warehouse",
                           destination_record="row")
_NAMES = [f.name for f in FIELDS]
_OBJECT = {"charges": "charge", "refunds": "refund", "disputes": "dispute",
           "payouts": "payout", "balance_transactions": "balance_transaction"}


def _stated(p: dict[str, Any]) -> list[Any]:
    """What Stripe states about one object, in FIELDS order."""
    return [p.get("object"), p.get("currency"), p.get("amount"), p.get("fee"), p.get("net"),
            p.get("amount_refunded"), p.get("status"), p.get("type")]


def _source(conn: sa.Connection, entry: StripeToWarehouseEntry, start: date,
            end: date, resources: Collection[str] = OBJECTS) -> pd.DataFrame:
    rows = [(r.record_key, r.record_key, r.version, *_stated(r.payload), "")
            for resource in resources
            for r in raw.window(conn, kind(resource, entry.stripe.account), start, end)]
    return frames.build_frame(rows, frames.source_columns(FIELDS), text=("key", "source_id"),
                              dates=("version",))


def _destination(wconn: sa.Connection, entry: StripeToWarehouseEntry, start: date,
                 end: date, resources: Collection[str] = OBJECTS,
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The window's rows of the tables, and the versions they hold (the ledger frame)."""
    rows: list[tuple[Any, ...]] = []
    held: list[tuple[Any, ...]] = []
    for resource, t in tables(entry).items():
        if resource not in resources:
            continue
        cols = {c.name for c in t.columns}

        def col(name: str, table: sa.Table = t, have: set[str] = cols) -> Any:
            return table.c[name] if name in have else sa.null()

        query = sa.select(t.c.id, t.c.source_version, t.c.currency, t.c.amount, col("fee"),
                          col("net"), col("amount_refunded"), col("status"), col("type")) \
            .where(t.c.business_date >= start, t.c.business_date < end)
        for r in wconn.execute(query):
            rows.append((r[0], r[0], r[1].isoformat(), r[0], _OBJECT[resource],
                         *(r[2].strip(), *r[3:])))
            held.append((r[0], r[0], r[1], r[0], "synced"))
    destination = frames.build_frame(rows, frames.destination_columns(FIELDS),
                                     text=("key", "source_id"))
    ledger = frames.build_frame(held, frames.LEDGER_COLUMNS,
                                text=("key", "source_id", "destination_id", "status"),
                                dates=("source_version",))
    return destination, ledger


def reconcile(conn: sa.Connection, wconn: sa.Connection, entry: StripeToWarehouseEntry,
              start: date, end: date,
              resources: Collection[str] = OBJECTS) -> WindowReconciliation:
    """The window's objects against the window's rows (of the given lists: one table's
    verdict), classified with causes."""
    source = _source(conn, entry, start, end, resources)
    destination, ledger = _destination(wconn, entry, start, end, resources)
    letters = pd.DataFrame(
        [(r.source_id, r.reason_code) for r in conn.execute(
            sa.select(dead_letters.c.source_id, dead_letters.c.reason_code).where(
                dead_letters.c.integration == entry.name,
                dead_letters.c.resolved_at.is_(None),
                dead_letters.c.source_id.in_(source["source_id"].tolist())))],
        columns=["key", "reason_code"]).astype({"key": object})
    failures = pd.DataFrame({"status": pd.array([], dtype="Int64")})
    return reconcile_window(frames.window_frames(start, end, source, destination, ledger,
                                                 letters, failures, FIELDS, LABELS))


@dataclass(frozen=True)
class PayoutBalance:
    """One paid payout: what Stripe states and what the warehouse holds. `unloaded`: the
    balance transactions it paid that are on days outside the window and not in the
    warehouse yet (a payout groups earlier days' transactions): until those days are
    loaded the warehouse cannot show the payout's sum, so it is pending, not judged."""

    payout: str
    currency: str
    stripe_amount: int
    stripe_items_net: int
    warehouse_amount: int | None
    warehouse_items_net: int
    unloaded: tuple[str, ...] = ()
    unloaded_days: tuple[str, ...] = ()

    @property
    def pending(self) -> bool:
        return bool(self.unloaded)

    @property
    def balanced(self) -> bool:
        return (self.stripe_items_net == self.stripe_amount
                == self.warehouse_amount == self.warehouse_items_net)


def _unloaded(conn: sa.Connection, wconn: sa.Connection, entry: StripeToWarehouseEntry,
              items: dict[str, list[str]], start: date,
              end: date) -> dict[str, tuple[list[str], set[str]]]:
    """Per payout, the transactions it paid that the warehouse has no row of and that are
    not the window's own (stored on another day, or not extracted yet), with their days."""
    wanted = sorted({txn for txns in items.values() for txn in txns})
    bt = tables(entry)["balance_transactions"]
    held: set[str] = set()
    for n in range(0, len(wanted), 5000):
        held |= set(wconn.execute(sa.select(bt.c.id).where(bt.c.id.in_(wanted[n:n + 5000])))
                    .scalars())
    absent = [txn for txn in wanted if txn not in held]
    days = {r.record_key: r.business_date for r in raw.records_by_key(
        conn, kind("balance_transactions", entry.stripe.account), absent)}
    out: dict[str, tuple[list[str], set[str]]] = {}
    for payout, txns in items.items():
        elsewhere = [t for t in txns if t not in held
                     and not (t in days and start <= days[t] < end)]
        if elsewhere:
            out[payout] = (elsewhere, {days[t].isoformat() if t in days else "not extracted"
                                       for t in elsewhere})
    return out


def payout_balances(conn: sa.Connection, wconn: sa.Connection, entry: StripeToWarehouseEntry,
                    start: date, end: date) -> list[PayoutBalance]:
    """Every paid automatic payout of the window, Stripe's sums beside the warehouse's; a
    payout whose transactions of other days are not loaded yet is pending."""
    account = entry.stripe.account
    stripe_net: dict[str, int] = defaultdict(int)
    items: dict[str, list[str]] = defaultdict(list)
    for item in raw.window(conn, kind(PAYOUT_ITEMS, account), start, end):
        if item.payload["type"] != "payout":  # the payout's own withdrawal
            stripe_net[str(item.external_key)] += int(item.payload["net"])
            items[str(item.external_key)].append(item.record_key)
    paid = [r.payload for r in raw.window(conn, kind("payouts", account), start, end)
            if r.payload.get("status") == "paid" and r.payload.get("automatic")]
    if not paid:
        return []
    unloaded = _unloaded(conn, wconn, entry, {p["id"]: items.get(p["id"], []) for p in paid},
                         start, end)
    t = tables(entry)
    ids = [p["id"] for p in paid]
    amounts = dict(wconn.execute(sa.select(t["payouts"].c.id, t["payouts"].c.amount)
                                 .where(t["payouts"].c.id.in_(ids))).tuples().all())
    bt = t["balance_transactions"]
    nets = dict(wconn.execute(sa.select(bt.c.payout_id, sa.func.sum(bt.c.net))
                              .where(bt.c.payout_id.in_(ids), bt.c.type != "payout")
                              .group_by(bt.c.payout_id)).tuples().all())
    return [PayoutBalance(p["id"], p["currency"], int(p["amount"]), stripe_net.get(p["id"], 0),
                          amounts.get(p["id"]), int(nets.get(p["id"]) or 0),
                          tuple(sorted(unloaded.get(p["id"], ([], set()))[0])),
                          tuple(sorted(unloaded.get(p["id"], ([], set()))[1])))
            for p in paid]


@dataclass(frozen=True)
class Totals:
    """One day, currency and reporting category: Stripe's sums against the warehouse's."""

    day: date
    currency: str
    category: str
    stripe: tuple[int, int, int, int]  # count, amount, fee, net
    warehouse: tuple[int, int, int, int]

    @property
    def equal(self) -> bool:
        return self.stripe == self.warehouse


def category_totals(conn: sa.Connection, wconn: sa.Connection, entry: StripeToWarehouseEntry,
                    start: date, end: date) -> list[Totals]:
    """Per day, currency and reporting category of the window's balance transactions."""
    stripe: dict[tuple[date, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for r in raw.window(conn, kind("balance_transactions", entry.stripe.account), start, end):
        p = r.payload
        sums = stripe[(r.business_date, p["currency"], p["reporting_category"])]
        for n, value in enumerate((1, p["amount"], p["fee"], p["net"])):
            sums[n] += int(value)
    bt = tables(entry)["balance_transactions"]
    held = {(r[0], r[1].strip(), r[2]): _four(r[3:]) for r in wconn.execute(
        sa.select(bt.c.business_date, bt.c.currency, bt.c.reporting_category, sa.func.count(),
                  sa.func.sum(bt.c.amount), sa.func.sum(bt.c.fee), sa.func.sum(bt.c.net))
        .where(bt.c.business_date >= start, bt.c.business_date < end)
        .group_by(bt.c.business_date, bt.c.currency, bt.c.reporting_category))}
    keys = sorted(set(stripe) | set(held))
    return [Totals(day, currency, category, _four(stripe[(day, currency, category)]),
                   held.get((day, currency, category), (0, 0, 0, 0)))
            for day, currency, category in keys]


def _four(values: Any) -> tuple[int, int, int, int]:
    count, amount, fee, net = (int(v) for v in values)
    return count, amount, fee, net
