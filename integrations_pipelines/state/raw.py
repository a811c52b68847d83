"""Raw tables: what each vendor returned for a window, replaced whole on every run.

Writes are idempotent by construction: delete the window, insert what was read, in one
transaction. A re-run of any partition (or range) leaves exactly one row per record. Changes
captured after the day closed are upserted one order at a time, newest version kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.state.tables import raw_quickbooks_invoices, raw_shopify_orders


def replace_shopify_orders(conn: sa.Connection, start: date, end: date,
                           rows: Sequence[dict[str, Any]], run_id: str | None) -> None:
    """Replace the orders of business days [start, end) with `rows`.

    Each row: order_id, business_date, created_at, updated_at, payload.
    """
    conn.execute(raw_shopify_orders.delete().where(
        raw_shopify_orders.c.business_date >= start, raw_shopify_orders.c.business_date < end
    ))
    if rows:
        now = datetime.now(UTC)
        conn.execute(raw_shopify_orders.insert(),
                     [{**row, "extracted_at": now, "run_id": run_id} for row in rows])


def upsert_shopify_orders(conn: sa.Connection, rows: Sequence[dict[str, Any]],
                          run_id: str | None) -> None:
    """Store changed orders whatever their day; a stored newer version is never replaced by
    an older one (a late page, an overlapping poll)."""
    if not rows:
        return
    now = datetime.now(UTC)
    stmt = pg_insert(raw_shopify_orders).values(
        [{**row, "extracted_at": now, "run_id": run_id} for row in rows])
    conn.execute(stmt.on_conflict_do_update(
        index_elements=["order_id"],
        set_={name: stmt.excluded[name] for name in (
            "business_date", "created_at", "updated_at", "payload", "extracted_at", "run_id")},
        where=raw_shopify_orders.c.updated_at <= stmt.excluded.updated_at))


def shopify_orders_by_id(conn: sa.Connection, order_ids: Sequence[int]) -> list[sa.Row]:
    """The stored rows of the given orders, by id."""
    if not order_ids:
        return []
    return list(conn.execute(sa.select(raw_shopify_orders)
                             .where(raw_shopify_orders.c.order_id.in_(list(order_ids)))
                             .order_by(raw_shopify_orders.c.order_id)))


def shopify_orders(conn: sa.Connection, start: date, end: date) -> list[sa.Row]:
    """Orders of business days [start, end), by id."""
    return list(conn.execute(
        sa.select(raw_shopify_orders)
        .where(raw_shopify_orders.c.business_date >= start,
               raw_shopify_orders.c.business_date < end)
        .order_by(raw_shopify_orders.c.order_id)
    ))


def replace_quickbooks_invoices(conn: sa.Connection, realm_id: str, start: date, end: date,
                                invoices: Sequence[dict[str, Any]]) -> None:
    """Replace the read-back invoices with TxnDate in [start, end) for one company."""
    conn.execute(raw_quickbooks_invoices.delete().where(
        raw_quickbooks_invoices.c.realm_id == realm_id,
        raw_quickbooks_invoices.c.txn_date >= start, raw_quickbooks_invoices.c.txn_date < end,
    ))
    if not invoices:
        return
    now = datetime.now(UTC)
    conn.execute(raw_quickbooks_invoices.insert(), [
        {
            "realm_id": realm_id, "invoice_id": inv["Id"], "doc_number": inv.get("DocNumber"),
            "txn_date": date.fromisoformat(inv["TxnDate"]), "sync_token": inv["SyncToken"],
            "currency": (inv.get("CurrencyRef") or {}).get("value"),
            "total_amt": Decimal(str(inv["TotalAmt"])),
            "voided": (inv.get("PrivateNote") or "").startswith("Voided"),
            "payload": inv, "read_at": now,
        }
        for inv in invoices
    ])
