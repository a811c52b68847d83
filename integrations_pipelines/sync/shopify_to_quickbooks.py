"""Shopify orders -> QuickBooks invoices, idempotently, one order at a time.

For each order version: map it (or dead-letter it); skip it when the ledger already holds
the same desired state or a newer source version; otherwise find the invoice (ledger, else
lookup by DocNumber — the external key — so a crash between QuickBooks' create and our
commit is recovered), then create, update or void it with a `requestid` derived from the
desired state, and commit the ledger row. Each order commits on its own, so a crash loses
at most one commit, and that one is recovered by the DocNumber lookup on the re-run.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.catalog import Integration
from integrations_pipelines.mapping.shopify_to_quickbooks import (
    CustomerDraft,
    InvoiceDraft,
    MappingRejected,
    business_date,
    map_order,
)
from integrations_pipelines.sync import dead_letters, ledger
from integrations_pipelines.vendors.errors import PermanentVendorError, QuickBooksFault
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient, quote
from integrations_pipelines.vendors.shopify.models import Order

STALE_OBJECT = "5010"
DUPLICATE_NAME = "6240"


@dataclass
class SyncOutcome:
    """What one sync did, by result; `dead_letter_reasons` counts by reason code."""

    created: int = 0
    updated: int = 0
    voided: int = 0
    unchanged: int = 0
    stale_skipped: int = 0
    dead_lettered: int = 0
    duplicates_seen: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)

    @property
    def processed(self) -> int:
        return (
            self.created
            + self.updated
            + self.voided
            + self.unchanged
            + self.stale_skipped
            + self.dead_lettered
        )


def request_id(*parts: str) -> str:
    """A deterministic QuickBooks `requestid` (<= 50 chars) for one intended write."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:40]


class InvoiceSync:
    """Syncs orders of one integration into one QuickBooks company."""

    def __init__(self, engine: sa.Engine, qbo: QuickBooksClient, integration: Integration) -> None:
        self.engine = engine
        self.qbo = qbo
        self.integration = integration
        self._customer_ids: dict[str, str] = {}

    def run(self, orders: Iterable[tuple[Order, dict[str, Any]]]) -> SyncOutcome:
        """Sync each (validated order, raw payload) pair; returns the counts."""
        outcome = SyncOutcome()
        for order, raw in orders:
            self.sync_one(order, raw, outcome)
        return outcome

    def sync_one(self, order: Order, raw: dict[str, Any], outcome: SyncOutcome) -> None:
        name = self.integration.name
        draft = map_order(order, self.integration.quickbooks, self.integration.timezone)
        day = business_date(order, self.integration.timezone)
        if isinstance(draft, MappingRejected):
            self._dead_letter(order, raw, "map", draft.reason_code, draft.reason, outcome)
            return
        digest = draft.payload_hash()
        with self.engine.connect() as conn:
            entry = ledger.get(conn, name, draft.source_id)
        if entry is not None and entry.source_version > order.updated_at:
            outcome.stale_skipped += 1  # a newer version was already written
            return
        if entry is not None and entry.payload_hash == digest:
            with self.engine.begin() as conn:
                dead_letters.resolve(conn, name, draft.source_id)
            outcome.unchanged += 1
            return
        try:
            invoice, action = self._write(draft, digest, entry, outcome)
        except QuickBooksFault as fault:
            if STALE_OBJECT in fault.codes:
                raise  # concurrent edit twice in a row: let the run fail loudly
            self._dead_letter(
                order, raw, "write", f"quickbooks_{'_'.join(fault.codes)}", str(fault), outcome
            )
            return
        setattr(outcome, action, getattr(outcome, action) + 1)
        with self.engine.begin() as conn:
            ledger.upsert(
                conn,
                ledger.LedgerEntry(
                    integration=name,
                    source_id=draft.source_id,
                    business_date=day,
                    source_version=order.updated_at,
                    destination_id=invoice["Id"],
                    destination_key=draft.doc_number,
                    payload_hash=digest,
                    status="voided" if draft.voided else "synced",
                ),
            )
            dead_letters.resolve(conn, name, draft.source_id)

    def _write(
        self, draft: InvoiceDraft, digest: str, entry: Any, outcome: SyncOutcome
    ) -> tuple[dict[str, Any], str]:
        """Create, update or void the invoice; returns it and what was done."""
        current = self._find_invoice(draft, entry, outcome)
        if current is None:
            body = draft.to_qbo(self._customer_id(draft.customer))
            current = self.qbo.create_invoice(body, request_id("create", draft.source_id, digest))
            if not draft.voided:
                return current, "created"
        elif _is_voided(current):
            # QuickBooks cannot un-void; a voided invoice stays the record of a cancellation.
            return current, "unchanged" if draft.voided else "voided"
        elif not draft.voided:
            body = draft.to_qbo(self._customer_id(draft.customer))
            return self._update(current, body, digest), "updated"
        voided = self.qbo.void_invoice(
            current["Id"],
            current["SyncToken"],
            request_id("void", draft.source_id, current["Id"], current["SyncToken"]),
        )
        return voided, "voided"

    def _update(self, current: dict[str, Any], body: dict[str, Any], digest: str) -> dict:
        for attempt in range(2):
            try:
                return self.qbo.update_invoice(
                    {**body, "Id": current["Id"], "SyncToken": current["SyncToken"]},
                    request_id("update", current["Id"], current["SyncToken"], digest),
                )
            except QuickBooksFault as fault:
                if STALE_OBJECT not in fault.codes or attempt:
                    raise
                current = self.qbo.get_invoice(current["Id"])  # someone edited it meanwhile
        raise AssertionError("unreachable")

    def _find_invoice(
        self, draft: InvoiceDraft, entry: Any, outcome: SyncOutcome
    ) -> dict[str, Any] | None:
        """The invoice for this order: by ledger id, else by DocNumber (crash recovery)."""
        if entry is not None:
            try:
                return self.qbo.get_invoice(entry.destination_id)
            except PermanentVendorError as exc:
                if exc.status != 404:
                    raise
                # Deleted in QuickBooks since we wrote it: fall back to the external key.
        found = sorted(
            self.qbo.find_invoices_by_doc_number(draft.doc_number), key=lambda inv: int(inv["Id"])
        )
        if len(found) > 1:
            outcome.duplicates_seen += len(found) - 1  # reconciliation reports them
        return found[0] if found else None

    def _customer_id(self, customer: CustomerDraft) -> str:
        """Find the customer by its stable tag, or create it."""
        if customer.tag in self._customer_ids:
            return self._customer_ids[customer.tag]
        pattern = "%" + customer.tag
        found = self.qbo.find_customers(f"DisplayName like {quote(pattern)}")
        if found:
            customer_id = sorted(found, key=lambda c: int(c["Id"]))[0]["Id"]
        else:
            try:
                customer_id = self.qbo.create_customer(
                    customer.to_qbo(), request_id("customer", customer.display_name)
                )["Id"]
            except QuickBooksFault as fault:
                if DUPLICATE_NAME not in fault.codes:
                    raise
                # Created by a concurrent run since our lookup: find it again.
                customer_id = self.qbo.find_customers(
                    f"DisplayName = {quote(customer.display_name)}"
                )[0]["Id"]
        self._customer_ids[customer.tag] = customer_id
        return customer_id

    def _dead_letter(
        self,
        order: Order,
        raw: dict[str, Any],
        stage: str,
        code: str,
        reason: str,
        outcome: SyncOutcome,
    ) -> None:
        with self.engine.begin() as conn:
            dead_letters.record(
                conn,
                dead_letters.DeadLetter(
                    integration=self.integration.name,
                    source_id=str(order.id),
                    business_date=business_date(order, self.integration.timezone),
                    stage=stage,
                    reason_code=code,
                    reason=reason,
                    payload=raw,
                ),
            )
        outcome.dead_lettered += 1
        outcome.dead_letter_reasons[code] += 1


def _is_voided(invoice: dict[str, Any]) -> bool:
    return (invoice.get("PrivateNote") or "").startswith("Voided")
