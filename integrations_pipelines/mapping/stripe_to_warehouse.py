"""Stripe objects -> typed rows of the analytics warehouse (pure: no I/O).

One table per Stripe list, keyed by the object's id, every amount an integer in the
currency's minor unit exactly as Stripe states it (`BIGINT`; the exponent is applied only
in the `daily_revenue` model), timestamps as `timestamptz`, the business day of the
object's creation in the integration's timezone, and `source_version` (the version of the
object the row holds, `records.py`). `balance_transactions.payout_id` is the automatic
payout that paid the transaction out, from Stripe's `?payout=` listing (the balance
transaction object itself names none). The tables' DDL is `migrations()`
(`vendors/warehouse/migrations.py`); the row functions raise `KeyError`/`TypeError` on an
object that lacks what its row needs, which the load dead-letters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.vendors.stripe.money import THREE_DECIMAL, ZERO_DECIMAL
from integrations_pipelines.vendors.stripe.records import OBJECTS, business_date, moment
from integrations_pipelines.vendors.warehouse.migrations import Migration

__all__ = ["ROWS", "daily_revenue_sql", "migrations", "row_of", "tables"]

_COMMON = ("id text PRIMARY KEY, created_at timestamptz NOT NULL, business_date date NOT "
           "NULL, currency char(3) NOT NULL, amount bigint NOT NULL")
_TAIL = "source_version timestamptz NOT NULL, loaded_at timestamptz NOT NULL"
_DDL = {
    "charges": "amount_captured bigint NOT NULL, amount_refunded bigint NOT NULL, status "
               "text NOT NULL, refunded boolean NOT NULL, disputed boolean NOT NULL, "
               "balance_transaction_id text, card_brand text",
    "refunds": "charge_id text NOT NULL, status text NOT NULL, reason text, "
               "balance_transaction_id text",
    "disputes": "charge_id text NOT NULL, status text NOT NULL, reason text NOT NULL",
    "payouts": "arrival_date timestamptz NOT NULL, status text NOT NULL, automatic boolean "
               "NOT NULL, balance_transaction_id text",
    "balance_transactions": "fee bigint NOT NULL, net bigint NOT NULL, type text NOT NULL, "
                            "reporting_category text NOT NULL, available_on timestamptz NOT "
                            "NULL, status text NOT NULL, source_id text, exchange_rate "
                            "numeric, payout_id text",
}


def _table_ddl(prefix: str, resource: str) -> list[str]:
    name = f"{{schema}}.{prefix}{resource}"
    return [f"CREATE TABLE {name} ({_COMMON}, {_DDL[resource]}, {_TAIL})",
            f"CREATE INDEX ON {name} (business_date)"]


def migrations(prefix: str) -> list[Migration]:
    """The pair's warehouse schema, in order."""
    return [
        Migration(f"{prefix}0001_tables",
                  [s for r in OBJECTS for s in _table_ddl(prefix, r)]),
        Migration(f"{prefix}0002_daily_revenue", [
            f"CREATE TABLE {{schema}}.{prefix}daily_revenue (business_date date NOT NULL, "
            "currency char(3) NOT NULL, transactions bigint NOT NULL, gross bigint NOT NULL, "
            "refunds bigint NOT NULL, disputes bigint NOT NULL, fees bigint NOT NULL, net "
            "bigint NOT NULL, gross_major numeric NOT NULL, net_major numeric NOT NULL, "
            "PRIMARY KEY (business_date, currency))",
            f"CREATE INDEX ON {{schema}}.{prefix}balance_transactions (payout_id)"]),
    ]



def tables(entry: StripeToWarehouseEntry) -> dict[str, sa.Table]:
    """The pair's tables as SQLAlchemy sees them (reflected shape, declared here)."""
    meta = sa.MetaData(schema=entry.warehouse.schema_name)
    prefix = entry.warehouse.table_prefix

    def table(resource: str, *columns: sa.Column[Any]) -> sa.Table:
        return sa.Table(
            f"{prefix}{resource}", meta,
            sa.Column("id", sa.Text, primary_key=True),
            sa.Column("created_at", sa.DateTime(timezone=True)),
            sa.Column("business_date", sa.Date), sa.Column("currency", sa.String(3)),
            sa.Column("amount", sa.BigInteger), *columns,
            sa.Column("source_version", sa.DateTime(timezone=True)),
            sa.Column("loaded_at", sa.DateTime(timezone=True)))

    def text(*names: str) -> list[sa.Column[Any]]:
        return [sa.Column(n, sa.Text) for n in names]

    return {
        "charges": table("charges", sa.Column("amount_captured", sa.BigInteger),
                         sa.Column("amount_refunded", sa.BigInteger), *text("status"),
                         sa.Column("refunded", sa.Boolean), sa.Column("disputed", sa.Boolean),
                         *text("balance_transaction_id", "card_brand")),
        "refunds": table("refunds", *text("charge_id", "status", "reason",
                                          "balance_transaction_id")),
        "disputes": table("disputes", *text("charge_id", "status", "reason")),
        "payouts": table("payouts", sa.Column("arrival_date", sa.DateTime(timezone=True)),
                         *text("status"), sa.Column("automatic", sa.Boolean),
                         *text("balance_transaction_id")),
        "balance_transactions": table(
            "balance_transactions", sa.Column("fee", sa.BigInteger),
            sa.Column("net", sa.BigInteger),
            *text("type", "reporting_category"),
            sa.Column("available_on", sa.DateTime(timezone=True)), *text("status", "source_id"),
            sa.Column("exchange_rate", sa.Numeric), *text("payout_id")),
    }


def _int(obj: dict[str, Any], name: str) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} is {type(value).__name__}, not an integer amount")
    return value


def _base(obj: dict[str, Any], tz: str, version: datetime) -> dict[str, Any]:
    return {"id": obj["id"], "created_at": moment(int(obj["created"])),
            "business_date": business_date(int(obj["created"]), tz),
            "currency": str(obj["currency"]), "amount": _int(obj, "amount"),
            "source_version": version, "loaded_at": datetime.now(UTC)}


def _charge(o: dict[str, Any]) -> dict[str, Any]:
    card = (o.get("payment_method_details") or {}).get("card") or {}
    return {"amount_captured": _int(o, "amount_captured"),
            "amount_refunded": _int(o, "amount_refunded"), "status": o["status"],
            "refunded": bool(o["refunded"]), "disputed": bool(o["disputed"]),
            "balance_transaction_id": o.get("balance_transaction"),
            "card_brand": card.get("brand")}


def _refund(o: dict[str, Any]) -> dict[str, Any]:
    return {"charge_id": o["charge"], "status": o["status"], "reason": o.get("reason"),
            "balance_transaction_id": o.get("balance_transaction")}


def _dispute(o: dict[str, Any]) -> dict[str, Any]:
    return {"charge_id": o["charge"], "status": o["status"], "reason": o["reason"]}


def _payout(o: dict[str, Any]) -> dict[str, Any]:
    return {"arrival_date": moment(int(o["arrival_date"])), "status": o["status"],
            "automatic": bool(o["automatic"]),
            "balance_transaction_id": o.get("balance_transaction")}


def _rate(value: Any) -> Decimal | None:
    """Stripe's exchange rate (a JSON number) as the exact decimal it was written as."""
    return None if value is None else Decimal(str(value))


def _txn(o: dict[str, Any]) -> dict[str, Any]:
    return {"fee": _int(o, "fee"), "net": _int(o, "net"), "type": o["type"],
            "reporting_category": o["reporting_category"],
            "available_on": moment(int(o["available_on"])), "status": o["status"],
            "source_id": o.get("source"), "exchange_rate": _rate(o.get("exchange_rate")),
            "payout_id": None}


ROWS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "charges": _charge, "refunds": _refund, "disputes": _dispute, "payouts": _payout,
    "balance_transactions": _txn,
}


def row_of(resource: str, obj: dict[str, Any], tz: str, version: datetime) -> dict[str, Any]:
    """The warehouse row of one Stripe object of list `resource`."""
    return {**_base(obj, tz, version), **ROWS[resource](obj)}


def _exponent_sql(column: str) -> str:
    zero = ", ".join(f"'{c}'" for c in sorted(ZERO_DECIMAL))
    three = ", ".join(f"'{c}'" for c in sorted(THREE_DECIMAL))
    return (f"CASE WHEN {column} IN ({zero}) THEN 0 WHEN {column} IN ({three}) THEN 3 "
            "ELSE 2 END")


def daily_revenue_sql(entry: StripeToWarehouseEntry) -> str:
    """The `daily_revenue` model of business days [:start, :end) made what the balance
    transactions say, per day and balance currency: gross (charges), refunds, disputes
    (withdrawals and reversals), fees, net (everything but payouts), in minor units, with
    the major-unit gross and net at the edge. One MERGE: a row that already says so is left
    alone (a rebuild of an unchanged day writes nothing), a day and currency with no
    transactions left is deleted."""
    schema = f'"{entry.warehouse.schema_name}"'
    prefix = entry.warehouse.table_prefix
    model = f"{schema}.{prefix}daily_revenue"
    columns = ("business_date", "currency", "transactions", "gross", "refunds", "disputes",
               "fees", "net", "gross_major", "net_major")
    values = [c for c in columns if c not in ("business_date", "currency")]
    fresh = (
        "SELECT business_date, currency, count(*) AS transactions, "
        "coalesce(sum(amount) FILTER (WHERE reporting_category = 'charge'), 0) AS gross, "
        "coalesce(sum(amount) FILTER (WHERE reporting_category = 'refund'), 0) AS refunds, "
        "coalesce(sum(amount) FILTER (WHERE reporting_category IN ('dispute', "
        "'dispute_reversal')), 0) AS disputes, coalesce(sum(fee), 0) AS fees, "
        "coalesce(sum(net), 0) AS net, "
        "coalesce(sum(amount) FILTER (WHERE reporting_category = 'charge'), 0) / "
        f"power(10, {_exponent_sql('currency')})::numeric AS gross_major, "
        f"coalesce(sum(net), 0) / power(10, {_exponent_sql('currency')})::numeric "
        f"AS net_major FROM {schema}.{prefix}balance_transactions "
        "WHERE business_date >= :start AND business_date < :end AND type <> 'payout' "
        "GROUP BY business_date, currency")
    return (
        f"MERGE INTO {model} AS m USING ({fresh}) AS f "
        "ON m.business_date = f.business_date AND m.currency = f.currency "
        f"WHEN MATCHED AND ({', '.join('m.' + c for c in values)}) IS DISTINCT FROM "
        f"({', '.join('f.' + c for c in values)}) THEN UPDATE SET "
        + ", ".join(f"{c} = f.{c}" for c in values)
        + f" WHEN NOT MATCHED THEN INSERT ({', '.join(columns)}) "
        f"VALUES ({', '.join('f.' + c for c in columns)}) "
        "WHEN NOT MATCHED BY SOURCE AND m.business_date >= :start AND m.business_date < :end "
        "THEN DELETE")
