"""Run requests for the days whose destination records someone else changed.

A books-changed sensor (QuickBooks' webhooks and CDC, Xero's webhooks and If-Modified-Since
reads) hears of one change twice or more; the day must be reconciled once per change, not
once per report. The sensor's cursor remembers, for a while, which version of each record
was already requested; a change at a version already requested launches nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime, timedelta

import dagster as dg

from integrations_pipelines.sync.books_changes import InvoiceChange

__all__ = ["REMEMBERED", "remembered_changes", "run_requests"]

REMEMBERED = timedelta(days=2)  # how long a requested change is remembered (sensor cursor)


def remembered_changes(cursor: str | None, now: datetime) -> dict[str, str]:
    """The versions requested less than `REMEMBERED` ago, by record id ("?": no version)."""
    state = json.loads(cursor) if cursor else {}
    return {k: v for k, v in state.get("requested", {}).items()
            if v == "?" or datetime.fromisoformat(v) > now - REMEMBERED}


def _stamp(change: InvoiceChange) -> str:
    return change.last_updated.isoformat() if change.last_updated else "?"


def run_requests(changes: dict[date, list[InvoiceChange]], remembered: dict[str, str], *,
                 destination: str, source: str, run_key_prefix: str,
                 first_day: date | None = None) -> list[dg.RunRequest]:
    """One run per changed day (from `first_day` on), keyed by its changes; the changes it
    requests are added to `remembered` (the cursor to save: `{"requested": remembered}`)."""
    requests = []
    for day, found in sorted(changes.items()):
        fresh = [c for c in found if remembered.get(c.invoice_id) != _stamp(c)]
        if (first_day is not None and day < first_day) or not fresh:
            continue
        for change in fresh:
            remembered[change.invoice_id] = _stamp(change)
        digest = hashlib.sha256(json.dumps(
            [[c.invoice_id, _stamp(c)] for c in fresh]).encode()).hexdigest()[:16]
        requests.append(dg.RunRequest(
            run_key=f"{run_key_prefix}:{day.isoformat()}:{digest}",
            partition_key=day.isoformat(),
            tags={"trigger": f"invoice changed in {destination} ({source})",
                  "changed_invoices": ",".join(sorted({c.invoice_id for c in fresh}))[:200]}))
    return requests
