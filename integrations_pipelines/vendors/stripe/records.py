"""Stripe objects as raw records: what the raw store keys, dates and versions them by.

- kinds: `stripe` / `charges` | `refunds` | `disputes` | `payouts` | `balance_transactions`
  / the account; and `payout_items` (which payout paid which balance transaction, as
  Stripe lists it with `balance_transactions?payout=`: Stripe's balance transaction object
  itself names no payout);
- key: the object's id (`ch_...`);
- day: the object's creation day in the integration's timezone (its partition);
- version: Stripe objects carry no update time, so a listed object's version is its
  `created`, and an object carried by an event is versioned by the event's `created`: a
  change captured after the day is newer than the day's listing, and a stale event never
  replaces a newer one (`raw.upsert_newer`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from integrations_pipelines.state.raw import DEFAULT_ACCOUNT, RawRecord, RecordKind

__all__ = ["OBJECTS", "PAYOUT_ITEMS", "SYSTEM", "business_date", "kind", "moment",
           "object_record", "payout_item_record", "resource_of"]

SYSTEM = "stripe"
OBJECTS = ("charges", "refunds", "disputes", "payouts", "balance_transactions")
PAYOUT_ITEMS = "payout_items"
_RESOURCES = {"charge": "charges", "refund": "refunds", "dispute": "disputes",
              "payout": "payouts", "balance_transaction": "balance_transactions"}


def kind(resource: str, account: str = DEFAULT_ACCOUNT) -> RecordKind:
    """The records of one Stripe list (`charges`, ...) of one account."""
    return RecordKind(SYSTEM, resource, account)


def resource_of(obj: dict[str, Any]) -> str | None:
    """The list a Stripe object belongs to, from its `object` field."""
    return _RESOURCES.get(str(obj.get("object")))


def moment(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, UTC)


def business_date(created: int, tz: str = "UTC") -> date:
    """An object's day: its creation day in the integration's local time."""
    return moment(created).astimezone(ZoneInfo(tz)).date()


def object_record(obj: dict[str, Any], tz: str, version: int | None = None) -> RawRecord:
    """One Stripe object; `version`: the event's `created` when an event carried it."""
    created = int(obj["created"])
    return RawRecord(record_key=str(obj["id"]), business_date=business_date(created, tz),
                     version=moment(version if version is not None else created),
                     facts={"currency": obj.get("currency")}, payload=obj)


def payout_item_record(payout: dict[str, Any], txn: dict[str, Any], tz: str) -> RawRecord:
    """`txn` paid out by `payout`, as Stripe listed it, on the payout's day."""
    return RawRecord(record_key=str(txn["id"]),
                     business_date=business_date(int(payout["created"]), tz),
                     version=moment(int(payout["created"])), external_key=str(payout["id"]),
                     facts={"payout": payout["id"]},
                     payload={"payout": payout["id"], "balance_transaction": txn["id"],
                              "type": txn["type"], "net": txn["net"],
                              "currency": txn["currency"]})
