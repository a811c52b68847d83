"""Replay dead letters through the current mapping and the same idempotent write path.

After a fix (a mapping change, a model that now knows a vendor's new type, data corrected
at the source, credentials restored), the records that were dead-lettered are sent again:
each stored payload is validated against the current model, mapped by the current mapping
and written by the same `InvoiceSync` a nightly run uses (ledger, `requestid`, lookup by
DocNumber), so replaying twice, or replaying records that were synced meanwhile, never
creates a second invoice. A letter whose record now syncs (or is already current in
QuickBooks) is resolved; one that still fails stays open with its new reason and one more
attempt counted.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pydantic
import sqlalchemy as sa

from integrations_pipelines.mapping.shopify_to_quickbooks_entry import ShopifyToQuickBooksEntry
from integrations_pipelines.state.tables import dead_letters as dead_letters_table
from integrations_pipelines.sync import dead_letters, ledger
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync, SyncOutcome
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient
from integrations_pipelines.vendors.shopify.models import Order

__all__ = [
    "REASON_EXCERPT",
    "LetterFilter",
    "ReplayOutcome",
    "describe_letters",
    "replay_dead_letters",
    "run_dead_letters_command",
]

REASON_EXCERPT = 120


@dataclass(frozen=True)
class LetterFilter:
    """Which open letters: all of an integration, or those of [start, end) and one reason."""

    integration: str
    start: date | None = None
    end: date | None = None
    reason_code: str | None = None

    @classmethod
    def from_days(cls, integration: str, reason_code: str | None = None,
                  first_day: str | None = None, last_day: str | None = None) -> LetterFilter:
        """From ISO dates as people give them: both business days included."""
        return cls(integration=integration,
                   start=date.fromisoformat(first_day) if first_day else None,
                   end=date.fromisoformat(last_day) + timedelta(days=1) if last_day else None,
                   reason_code=reason_code)

    def select(self, conn: sa.Connection) -> list[sa.Row[Any]]:
        letters = dead_letters.open_letters(conn, self.integration, start=self.start,
                                            end=self.end)
        return [r for r in letters if self.reason_code in (None, r.reason_code)]


@dataclass
class ReplayOutcome:
    """What a replay did: letters selected, resolved and still failing (by reason code)."""

    selected: int = 0
    resolved: int = 0
    still_failing: int = 0
    still_failing_reasons: Counter[str] = field(default_factory=Counter)
    sync: SyncOutcome = field(default_factory=SyncOutcome)

    def summary(self) -> str:
        reasons = ", ".join(f"{code}: {n}" for code, n in self.still_failing_reasons.most_common())
        return (f"{self.selected} dead letters replayed: {self.resolved} resolved, "
                f"{self.still_failing} still failing" + (f" ({reasons})" if reasons else "")
                + f"; invoices created {self.sync.created}, updated {self.sync.updated}, "
                f"voided {self.sync.voided}, already current {self.sync.unchanged}")


def replay_dead_letters(engine: sa.Engine, qbo: QuickBooksClient,
                        integration: ShopifyToQuickBooksEntry,
                        which: LetterFilter) -> ReplayOutcome:
    """Replay the open letters `which` selects; returns what became of them."""
    if (integration.source, integration.destination) != ("shopify", "quickbooks"):
        raise ValueError(f"no replay for {integration.source} -> {integration.destination}")
    with engine.connect() as conn:
        letters = which.select(conn)
    outcome = ReplayOutcome(selected=len(letters))
    pairs: list[tuple[Order, dict[str, Any]]] = []
    for letter in letters:
        try:
            pairs.append((Order.model_validate(letter.payload), letter.payload))
        except pydantic.ValidationError as exc:
            _still_invalid(engine, integration, letter, exc)
    outcome.sync = InvoiceSync(engine, qbo, integration).run(pairs)
    _resolve_superseded(engine, integration, pairs)
    with engine.connect() as conn:
        after = conn.execute(
            sa.select(dead_letters_table.c.resolved_at, dead_letters_table.c.reason_code)
            .where(dead_letters_table.c.id.in_([letter.id for letter in letters]))
        ).all()
    for row in after:
        if row.resolved_at is not None:
            outcome.resolved += 1
        else:
            outcome.still_failing += 1
            outcome.still_failing_reasons[row.reason_code] += 1
    return outcome


def _still_invalid(engine: sa.Engine, integration: ShopifyToQuickBooksEntry, letter: sa.Row[Any],
                   exc: pydantic.ValidationError) -> None:
    with engine.begin() as conn:
        dead_letters.record(conn, dead_letters.DeadLetter(
            integration=integration.name, source_id=letter.source_id,
            business_date=letter.business_date, stage="validate",
            reason_code="contract_violation",
            reason=f"order does not match the Order model: {exc}"[:4000],
            payload=letter.payload,
        ))


def _resolve_superseded(engine: sa.Engine, integration: ShopifyToQuickBooksEntry,
                        pairs: Sequence[tuple[Order, dict[str, Any]]]) -> None:
    """A letter whose record the ledger holds at the same or a newer version is moot: a
    later run synced that order (its letter was recorded after, e.g. by a slower run)."""
    versions = {str(order.id): order for order, _ in pairs}
    with engine.begin() as conn:
        entries = ledger.get_many(conn, integration.name, list(versions))
        for source_id, entry in entries.items():
            order = versions[source_id]
            if entry.source_version >= order.updated_at:
                dead_letters.resolve(conn, integration.name, source_id)


def describe_letters(rows: Sequence[sa.Row[Any]]) -> str:
    """The open letters as a table a person reads in a terminal, with counts by reason."""
    if not rows:
        return "no open dead letters"
    lines = [f"{'id':>6}  {'business day':<12}  {'source id':<20}  {'stage':<8}  "
             f"{'reason code':<28}  {'tries':>5}  reason"]
    for r in rows:
        day = r.business_date.isoformat() if r.business_date else "-"
        reason = " ".join(r.reason.split())[:REASON_EXCERPT]
        lines.append(f"{r.id:>6}  {day:<12}  {r.source_id:<20}  {r.stage:<8}  "
                     f"{r.reason_code:<28}  {r.attempts:>5}  {reason}")
    counts = Counter(r.reason_code for r in rows)
    lines.append("")
    lines.append(f"{len(rows)} open: " + ", ".join(f"{c} {n}" for c, n in counts.most_common()))
    return "\n".join(lines)


def run_dead_letters_command(action: str, integration_name: str, reason_code: str | None,
                             from_date: str | None, to_date: str | None) -> int:
    """`integrations-pipelines dead-letters list|replay`: the store and QuickBooks from the
    environment (DATABASE_URL, QBO_*); `to_date` is included. Exit 1 if letters remain."""
    from integrations_pipelines.mapping.shopify_to_quickbooks_entry import flagship
    from integrations_pipelines.settings import QuickBooksSettings, database_url
    from integrations_pipelines.state.db import engine_for
    from integrations_pipelines.vendors.contracts import ContractGuard
    from integrations_pipelines.vendors.quickbooks.client import connect, realm_budget

    try:
        which = LetterFilter.from_days(integration_name, reason_code, from_date, to_date)
        chosen = flagship(integration_name)
    except (ValueError, KeyError) as exc:
        print(f"invalid selection: {exc}", file=sys.stderr)
        return 2
    engine = engine_for(database_url())
    if action == "list":
        with engine.connect() as conn:
            print(describe_letters(which.select(conn)))
        return 0
    conf = QuickBooksSettings.from_env()
    client = connect(conf, engine, budget=realm_budget(engine, conf.realm_id),
                     contracts=ContractGuard(engine, run_id="cli:dead-letters-replay"))
    with client.http:
        outcome = replay_dead_letters(engine, client, chosen, which)
    print(outcome.summary())
    return 1 if outcome.still_failing else 0
