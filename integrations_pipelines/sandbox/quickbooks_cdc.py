"""Change data capture: `GET /v3/company/{realm}/cdc?entities=...&changedSince=...`.

The poll that catches what webhooks missed, as Intuit documents it ("Change data capture
operation", developer.intuit.com; blog "Stay in sync with CDC", 2023-08-24):
- `entities` is a comma-separated list (any case); `changedSince` an ISO date or date-time,
  at most 30 days back (older is refused: a client that has been away longer must re-read
  everything);
- the answer holds the full current payload of every object changed since then, grouped by
  entity: `{"CDCResponse": [{"QueryResponse": [{"Invoice": [...], "startPosition": 1,
  "maxResults": n, "totalCount": n}, ...]}], "time": ...}`; a deleted object comes back as
  `{"domain": "QBO", "status": "Deleted", "Id": ..., "MetaData": {"LastUpdatedTime": ...}}`;
- a response carries at most 1,000 objects (Intuit: "Server responses can handle a maximum of
  1,000 objects"; across all requested entities), with no paging: a client hitting the cap
  must ask for a shorter period. The sandbox keeps the oldest changes (so moving
  `changedSince` up to the newest one seen makes progress), says how many matched in
  `totalCount`, and leaves the entity key out when nothing of that entity changed.
"Changed since" includes changes at exactly `changedSince` (a repeat beats a miss).
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Any

from integrations_pipelines.sandbox.quickbooks_errors import invalid, required

if TYPE_CHECKING:
    from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore

__all__ = ["CDC_ENTITIES", "LOOKBACK_DAYS", "change_data_capture"]

LOOKBACK_DAYS = 30
CDC_ENTITIES = {"invoice": "Invoice", "customer": "Customer", "item": "Item"}


def change_data_capture(store: QuickBooksStore, entities: str | None,
                        changed_since: str | None) -> dict[str, Any]:
    """The CDC answer for the company; raises QboFault for what QBO answers 400."""
    if not entities:
        raise required("entities")
    if not changed_since:
        raise required("changedSince")
    names: list[str] = []
    for raw in entities.split(","):
        name = CDC_ENTITIES.get(raw.strip().lower())
        if name is None:
            raise invalid(f"Entity {raw.strip()!r} is not supported by this sandbox's cdc",
                          "entities")
        if name not in names:
            names.append(name)
    zone = timezone(timedelta(hours=store.utc_offset_hours))
    since = _moment(changed_since, zone)
    now = datetime.fromisoformat(store.now_text())
    if since < now - timedelta(days=LOOKBACK_DAYS):
        raise invalid(f"Operation cdc with changedSince date {changed_since} which is older "
                      f"than fixed days is not supported. Maximum look-back is "
                      f"{LOOKBACK_DAYS} days.", "changedSince")
    changes: list[tuple[datetime, str, dict[str, Any]]] = []
    for name in names:
        rows, deleted = store.change_log(name)
        for row in rows:
            stamp = datetime.fromisoformat(row["MetaData"]["LastUpdatedTime"])
            if stamp >= since:
                changes.append((stamp, name, row))
        for ident, when in deleted.items():
            if datetime.fromisoformat(when) >= since:
                changes.append((datetime.fromisoformat(when), name, {
                    "domain": "QBO", "status": "Deleted", "Id": ident,
                    "MetaData": {"LastUpdatedTime": when}}))
    matched = Counter(name for _, name, _ in changes)
    changes.sort(key=lambda change: change[0])
    kept = changes[: store.cdc_max_objects]
    parts = []
    for name in names:
        rows = [row for _, owner, row in kept if owner == name]
        part: dict[str, Any] = {name: rows} if rows else {}
        parts.append({**part, "startPosition": 1, "maxResults": len(rows),
                      "totalCount": matched[name]})
    return {"CDCResponse": [{"QueryResponse": parts}], "time": store.now_text()}


def _moment(text: str, zone: timezone) -> datetime:
    """`changedSince` as an aware datetime: a bare date or naive time is company time."""
    try:
        if len(text) == 10:
            return datetime.combine(datetime.fromisoformat(text).date(), time(), zone)
        # an unencoded "+" in a query string arrives as a space
        moment = datetime.fromisoformat(text.replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise invalid(f"changedSince {text!r} is not an ISO 8601 date-time",
                      "changedSince") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)
