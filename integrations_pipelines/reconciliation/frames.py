"""The frames a Shopify -> QuickBooks reconciliation compares, built from the store.

The judge is independent: it compares what each system states about itself, never what our
mapping computed, so a mapping error fails the check instead of being agreed with.
For one window of business days:
- source: every order of the shop in the raw store (`raw_records`) at its current version,
  as Shopify states it: its current total and tax (`current_total_price_set`,
  `current_total_tax_set`, presentment money: after refunds and edits), currency, customer
  and cancelled state. A cancelled order expects a voided invoice, which QuickBooks keeps at
  zero. Test orders are left out when the catalog skips them.
- destination: the QuickBooks invoices dated in the window that belong to the integration
  (DocNumber shaped like the external key `S<order number>`, or the `shopify:order:` marker
  in PrivateNote), as QuickBooks reports them: `TotalAmt` (which QuickBooks computes from the
  lines and its tax rules, never a number we sent), `TxnTaxDetail.TotalTax`, currency,
  customer and voided state. A hand-made invoice with its own numbering is the
  bookkeeper's business, not drift. A voided copy of a key that has another record is a
  settled duplicate (how `void_duplicates` resolves one) and is left out.
- ledger: the sync ledger's rows for the window (and for the destination's keys).
The key on every side is the DocNumber, the integration's external key (text).

Dead letters: an order with an open dead letter and no invoice is accounted for (it has a
reason and is replayable), not missing; it is taken out of the comparison and counted apart.
Evidence for the diagnosis: open dead letters, the destination's failed HTTP calls of the
runs that worked on the window, an unhealthy token (reported as an authentication failure),
and the orders' edge-case tags. Plain SQLAlchemy and pandas: no Dagster import.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.mapping.shopify_to_quickbooks import (
    customer_tag,
    edge_cases,
    external_key,
)
from integrations_pipelines.reconciliation.diagnosis import AUTH_STATUSES, Evidence
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.state import raw
from integrations_pipelines.state.tables import (
    dead_letters,
    http_failures,
    oauth_tokens,
    sync_ledger,
)
from integrations_pipelines.vendors.quickbooks import records as quickbooks_records
from integrations_pipelines.vendors.quickbooks.writer import is_voided
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS

INVOICE_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("currency", "currency"),
    FieldSpec("total", "money"),
    FieldSpec("tax", "money"),
    FieldSpec("customer_tag", "text"),
    FieldSpec("voided", "bool"),
)
FIELD_NAMES = tuple(f.name for f in INVOICE_FIELDS)
OWN_DOC_NUMBER = re.compile(r"^S\d+$")
ORDER_MARKER = re.compile(r"shopify:order:(\d+)")
CUSTOMER_TAG = re.compile(r"(\[shopify:[^\]]*\])\s*$")
SOURCE_COLUMNS = ("key", "order_id", "version", *FIELD_NAMES, "tags")
DESTINATION_COLUMNS = ("key", "destination_id", "sync_token", "order_id", *FIELD_NAMES)
LEDGER_COLUMNS = ("key", "source_id", "source_version", "destination_id", "status")


@dataclass(frozen=True)
class WindowFrames:
    """Everything one window's reconciliation reads, as plain frames.

    `source` excludes the accounted-for keys, which are in `accounted` (the same columns
    plus the dead letter's `reason_code`); `orders` counts every order of the window,
    accounted ones included.
    """

    start: date
    end: date
    source: pd.DataFrame
    destination: pd.DataFrame
    ledger: pd.DataFrame
    accounted: pd.DataFrame
    evidence: Evidence
    orders: int


def _stated(money: Any, fallback: Any) -> float:
    """Presentment amount of a Shopify money set (the original one when `money` is absent)."""
    return float((money or fallback).presentment_money.amount)


def source_frame(orders: Iterable[Order], integration: Integration) -> pd.DataFrame:
    """Per order, what Shopify says the invoice must show now (independent of the mapping).

    A voided invoice keeps no amounts in QuickBooks, so a cancelled order expects zeros.
    """
    skip_tests = integration.shopify.test_orders == "skip"
    rows = []
    for order in orders:
        if order.test and skip_tests:
            continue
        voided = order.cancelled_at is not None
        rows.append({
            "key": external_key(order),
            "order_id": str(order.id),
            "version": order.updated_at,
            "currency": order.presentment_currency,
            "total": 0.0 if voided else _stated(order.current_total_price_set,
                                                 order.total_price_set),
            "tax": 0.0 if voided else _stated(order.current_total_tax_set, order.total_tax_set),
            "customer_tag": customer_tag(order),
            "voided": voided,
            "tags": " ".join(f"edge:{case}" for case in sorted(edge_cases(order))),
        })
    frame = pd.DataFrame(rows, columns=list(SOURCE_COLUMNS))
    frame["version"] = pd.to_datetime(frame["version"], utc=True)
    return frame.astype({"key": object, "order_id": object})


def destination_frame(invoices: Iterable[dict[str, Any]], ledger: pd.DataFrame) -> pd.DataFrame:
    """The integration's invoices as compared values, one row per QuickBooks record."""
    rows = []
    for inv in invoices:
        doc = inv.get("DocNumber")
        note = inv.get("PrivateNote") or ""
        marker = ORDER_MARKER.search(note)
        if not ((doc and OWN_DOC_NUMBER.match(doc)) or marker):
            continue
        tag = CUSTOMER_TAG.search(str((inv.get("CustomerRef") or {}).get("name") or ""))
        rows.append({
            "key": doc or f"(no DocNumber: invoice {inv['Id']})",
            "destination_id": str(inv["Id"]),
            "sync_token": str(inv.get("SyncToken", "")),
            "order_id": marker.group(1) if marker else None,
            "currency": (inv.get("CurrencyRef") or {}).get("value"),
            "total": _amount(inv.get("TotalAmt")),
            "tax": _amount((inv.get("TxnTaxDetail") or {}).get("TotalTax")),
            "customer_tag": tag.group(1) if tag else None,
            "voided": is_voided(inv),
        })
    frame = pd.DataFrame(rows, columns=list(DESTINATION_COLUMNS)).astype({"key": object})
    return _without_settled_duplicates(frame, ledger)


def _amount(value: Any) -> float:
    return 0.0 if value is None else float(Decimal(str(value)))


def _without_settled_duplicates(frame: pd.DataFrame, ledger: pd.DataFrame) -> pd.DataFrame:
    """Drop voided copies of a key that keeps another record, unless the copy is the
    ledger's own invoice (a cancelled order's voided invoice is the record, not a copy)."""
    if not len(frame):
        return frame
    ledger_ids = set(ledger["destination_id"].astype(str)) if len(ledger) else set()
    records = frame.groupby("key", sort=False)["key"].transform("size")
    copy = frame["voided"] & ~frame["destination_id"].isin(ledger_ids) & (records > 1)
    kept = (~copy).groupby(frame["key"], sort=False).transform("sum")
    settled = copy & (kept > 0)
    return frame.loc[~settled].reset_index(drop=True)


def ledger_frame(rows: Sequence[Any]) -> pd.DataFrame:
    """Ledger rows keyed by DocNumber (the last written row wins if a key repeats); orders
    settled without an invoice (skipped by policy) have no key and are left out."""
    frame = pd.DataFrame(
        [{"key": r.destination_key, "source_id": r.source_id,
          "source_version": r.source_version, "destination_id": str(r.destination_id),
          "status": r.status, "synced_at": r.synced_at} for r in rows if r.destination_key],
        columns=[*LEDGER_COLUMNS, "synced_at"],
    )
    frame["source_version"] = pd.to_datetime(frame["source_version"], utc=True)
    frame = frame.sort_values("synced_at", kind="stable").drop_duplicates("key", keep="last")
    return frame.drop(columns="synced_at").reset_index(drop=True).astype({"key": object})


def load_window(
    conn: sa.Connection,
    integration: Integration,
    start: date,
    end: date,
    realm_id: str | None,
    *,
    invoices: Sequence[dict[str, Any]] | None = None,
    run_ids: Collection[str] = (),
) -> WindowFrames:
    """The frames of business days [start, end).

    `invoices`: the destination's records as QuickBooks returns them (a fresh read, as the
    repair does); by default the last read-back in the raw store for `realm_id` (None:
    every realm). `run_ids`: the runs that worked on the window, whose failed
    QuickBooks calls are evidence.
    """
    name = integration.name
    stored = raw.window(conn, ORDERS, start, end)
    source = source_frame((Order.model_validate(r.payload) for r in stored), integration)
    if invoices is None:
        invoices = _read_back(conn, start, end, realm_id)
    numbered = [i["DocNumber"] for i in invoices if i.get("DocNumber")]
    ledger = ledger_frame(conn.execute(
        sa.select(sync_ledger).where(
            sync_ledger.c.integration == name,
            sa.or_(
                sa.and_(sync_ledger.c.business_date >= start, sync_ledger.c.business_date < end),
                sync_ledger.c.destination_key.in_(numbered),
            ),
        )
    ).all())
    destination = destination_frame(invoices, ledger)
    letters = _open_letters(conn, name, start, end, source)
    unsent = source["key"].isin(letters["key"]) & ~source["key"].isin(destination["key"])
    accounted = source.loc[unsent].merge(
        letters[["key", "reason_code"]].drop_duplicates("key"), on="key", how="left")
    evidence = Evidence(
        dead_letters=letters[["key", "reason_code"]],
        http_failures=_failures(conn, integration.destination, realm_id, run_ids),
        tags=source[["key", "tags"]],
    )
    return WindowFrames(
        start=start, end=end, source=source.loc[~unsent].reset_index(drop=True),
        destination=destination, ledger=ledger, accounted=accounted.reset_index(drop=True),
        evidence=evidence, orders=len(source),
    )


def _read_back(conn: sa.Connection, start: date, end: date,
               realm_id: str | None) -> list[dict[str, Any]]:
    if realm_id is None:
        stored = raw.window_of_every_account(conn, quickbooks_records.SYSTEM,
                                             quickbooks_records.INVOICES, start, end)
    else:
        stored = raw.window(conn, quickbooks_records.invoices_kind(realm_id), start, end)
    return [r.payload for r in stored]


def _open_letters(conn: sa.Connection, integration: str, start: date, end: date,
                  source: pd.DataFrame) -> pd.DataFrame:
    """Open dead letters of the window's orders, keyed by DocNumber."""
    order_ids = source["order_id"].tolist()
    rows = conn.execute(
        sa.select(dead_letters.c.source_id, dead_letters.c.reason_code, dead_letters.c.payload)
        .where(dead_letters.c.integration == integration, dead_letters.c.resolved_at.is_(None),
               sa.or_(dead_letters.c.source_id.in_(order_ids),
                      sa.and_(dead_letters.c.business_date >= start,
                              dead_letters.c.business_date < end)))
        .order_by(dead_letters.c.id)
    ).all()
    keys = dict(zip(source["order_id"], source["key"], strict=True))
    letters = pd.DataFrame(
        [{"key": keys.get(r.source_id) or _doc_number(r.payload), "order_id": r.source_id,
          "reason_code": r.reason_code} for r in rows],
        columns=["key", "order_id", "reason_code"],
    )
    return letters.dropna(subset=["key"]).astype({"key": object})


def _doc_number(payload: Any) -> str | None:
    number = payload.get("order_number") if isinstance(payload, dict) else None
    return f"S{number}" if number is not None else None


def _failures(conn: sa.Connection, vendor: str, realm_id: str | None,
              run_ids: Collection[str]) -> pd.DataFrame:
    """Failed calls to the destination in the window's runs, plus one authentication
    failure when the stored token is revoked or its refreshes are failing."""
    statuses: list[int | None] = []
    if run_ids:
        statuses = list(conn.execute(
            sa.select(http_failures.c.status).where(
                http_failures.c.vendor == vendor, http_failures.c.run_id.in_(list(run_ids)))
        ).scalars())
    if realm_id is not None:
        token = conn.execute(
            sa.select(oauth_tokens.c.revoked, oauth_tokens.c.consecutive_failures)
            .where(oauth_tokens.c.connection == f"{vendor}:{realm_id}")
        ).first()
        if token is not None and (token.revoked or token.consecutive_failures > 0):
            statuses.append(AUTH_STATUSES[0])
    return pd.DataFrame({"status": pd.array(statuses, dtype="Int64")})
