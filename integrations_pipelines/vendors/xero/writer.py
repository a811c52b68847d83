"""Orders written into one Xero organisation: the destination writer of every pair that
books into Xero.

Xero's rules live here: invoices created up to 50 per request with `summarizeErrors=false`
(`prepare_chunk`: one refused invoice is that order's dead letter with Xero's own message,
the other 49 are saved), an `Idempotency-Key` on every write derived from what is written,
the lookup by `InvoiceNumber` that recovers a create lost in a crash, the ownership marker
in `Reference`, credit notes allocated to the invoice (never more than its amount due: a
payment of ours is taken back first), the payment of what the order holds into the
clearing account, and cancellations: a draft is deleted, anything else voided (a paid
invoice cannot be voided, so our payment is deleted first).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from integrations_pipelines.sync.ledger import LedgerEntry
from integrations_pipelines.sync.roles import DeadLetterReason, DestinationConflict, Written
from integrations_pipelines.vendors.errors import PermanentVendorError
from integrations_pipelines.vendors.xero.client import BATCH_SIZE, XeroClient
from integrations_pipelines.vendors.xero.dates import parse_ms_json
from integrations_pipelines.vendors.xero.drafts import XeroInvoiceDraft
from integrations_pipelines.vendors.xero.errors import XeroValidationError, element_errors

__all__ = ["DUPLICATE_NUMBER", "DocumentWriter", "idempotency_key", "updated_at"]

DUPLICATE_NUMBER = "must be unique"  # Xero: "Invoice # must be unique."
CLOSED = ("VOIDED", "DELETED")
MAX_REQUEST_BYTES = 3_000_000  # Xero refuses a request over 3.5 MB: headroom for the envelope
CENT = Decimal("0.01")


def idempotency_key(*parts: str) -> str:
    """A deterministic `Idempotency-Key` (<= 128 chars) for one intended write."""
    return "ip-" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def updated_at(document: dict[str, Any]) -> datetime | None:
    """Xero's `UpdatedDateUTC` (MS-JSON), its own version clock of the document."""
    text = document.get("UpdatedDateUTC")
    return parse_ms_json(text) if isinstance(text, str) else None


def _dec(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT)


class DocumentWriter:
    """Writes order drafts into the client's organisation. `owner_marker` + source id is
    the text in `Reference` that proves an invoice is ours; `adopt_existing` takes over an
    invoice with our number that we did not write instead of dead-lettering the conflict."""

    def __init__(self, xero: XeroClient, *, owner_marker: str, source_label: str = "record",
                 adopt_existing: bool = False) -> None:
        self.xero = xero
        self.owner_marker = owner_marker
        self.source_label = source_label
        self.adopt_existing = adopt_existing
        self._prepared: dict[str, dict[str, Any]] = {}
        self.batches = 0

    # -- the engine's hooks -----------------------------------------------------------
    def find_by_external_keys(self, keys: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        by_number: dict[str, list[dict[str, Any]]] = {}
        for invoice in self.xero.invoices_by_numbers(list(keys)):
            by_number.setdefault(invoice.get("InvoiceNumber") or "", []).append(invoice)
        return by_number

    def prepare_chunk(self, planned: Sequence[tuple[XeroInvoiceDraft, LedgerEntry | None,
                                                    list[dict[str, Any]], int]]) -> None:
        """Create the chunk's new invoices, `BATCH_SIZE` per request and never more than
        Xero's 3.5 MB a request (`MAX_REQUEST_BYTES`, with headroom); each answer element
        (saved, or refused with its `ValidationErrors`) waits for its order's `write`."""
        new = [(draft, refused) for draft, entry, found, refused in planned
               if entry is None and not found]
        for batch in _batches(new):
            key = idempotency_key("invoices", *(f"{d.source_id}:{d.payload_hash()}:{r}"
                                                for d, r in batch))
            answers = self.xero.put_invoices([d.to_xero() for d, _ in batch], key)
            self.batches += 1
            for (draft, _), answer in zip(batch, answers, strict=True):
                self._prepared[draft.source_id] = answer

    def dead_letter_reason(self, exc: Exception) -> DeadLetterReason | None:
        """Xero's refusal of this one order's documents is its dead letter, in Xero's words."""
        if not isinstance(exc, XeroValidationError):
            return None
        return DeadLetterReason("xero_validation", "; ".join(exc.messages) or str(exc),
                                exc.request_id)

    def write(self, draft: XeroInvoiceDraft, entry: LedgerEntry | None,
              candidates: list[dict[str, Any]], refused: int) -> Written:
        """Bring the order's invoice, credit notes and payment to the draft's state."""
        current, adopted = self._find(entry, candidates, draft)
        created = False
        if current is None:
            current = self._create(draft, entry, refused)
            created = True
        invoice_id = str(current["InvoiceID"])
        if draft.voided:
            action = self._cancel(draft, current)
            final = self.xero.invoice(invoice_id)
            return Written(invoice_id, action, updated_at(final), max(len(candidates) - 1, 0),
                           adopted)
        if current["Status"] in CLOSED:
            # Xero cannot un-void; reconciliation names the invoice someone voided.
            return Written(invoice_id, "unchanged", updated_at(current), 0, adopted)
        if not created and _lines_differ(current, draft):
            self._take_back_payments(draft, current)
            self.xero.post_invoice(invoice_id, {"LineItems": [ln.to_xero() for ln in draft.lines],
                                                "LineAmountTypes": draft.to_xero()[
                                                    "LineAmountTypes"]},
                                   idempotency_key("update", invoice_id, draft.payload_hash()))
            current = self.xero.invoice(invoice_id)
        current = self._credit(draft, current)
        final = self._pay(draft, current)
        return Written(invoice_id, "created" if created else "updated", updated_at(final),
                       max(len(candidates) - 1, 0), adopted)

    # -- the steps --------------------------------------------------------------------
    def _create(self, draft: XeroInvoiceDraft, entry: LedgerEntry | None,
                refused: int) -> dict[str, Any]:
        answer = self._prepared.pop(draft.source_id, None)
        if answer is None:
            # A re-create after the invoice was deleted in Xero must not be answered with
            # the deleted one (its id is in the key), nor a retry after a refusal with the
            # refusal (the number of refusals is).
            previous = entry.destination_id if entry is not None else ""
            answer = self.xero.put_invoices(
                [draft.to_xero()],
                idempotency_key("invoice", draft.source_id, draft.payload_hash(), previous,
                                str(refused)))[0]
        messages = element_errors(answer) if answer.get("HasErrors") else []
        if not messages:
            self._note_originals(draft, answer)
            return answer
        if any(DUPLICATE_NUMBER in m for m in messages):
            # Created since the chunk was planned (another run): find it and carry on.
            found = self.xero.invoices_by_numbers([draft.invoice_number])
            current, _ = self._find(None, found, draft)
            if current is not None:
                return current
        raise XeroValidationError(f"Xero refused invoice {draft.invoice_number}: "
                                  + "; ".join(messages), messages=messages, vendor="xero",
                                  endpoint="invoices.create")

    def _note_originals(self, draft: XeroInvoiceDraft, invoice: dict[str, Any]) -> None:
        """Texts changed for Xero keep their original in the invoice's history, written
        with escapes (Xero refuses the characters themselves): nothing is silently lost."""
        if not draft.normalised:
            return
        details = "Shopify's original text (changed for Xero): " + "; ".join(
            f"{where}: {_escaped(original)}" for where, original in draft.normalised)
        self.xero.add_history(str(invoice["InvoiceID"]), details[:2500],
                              idempotency_key("note", str(invoice["InvoiceID"])))

    def _cancel(self, draft: XeroInvoiceDraft, current: dict[str, Any]) -> str:
        invoice_id = str(current["InvoiceID"])
        if current["Status"] in CLOSED:
            return "unchanged"
        status = "DELETED" if current["Status"] in ("DRAFT", "SUBMITTED") else "VOIDED"
        if status == "VOIDED":
            # Xero cannot void an invoice with payments or credit allocated: our own are
            # taken back first (the credit notes voided with it); anyone else's make Xero
            # refuse, and the refusal is the dead letter.
            self._take_back_credit(draft, current)
            self._take_back_payments(draft, current)
        self.xero.post_invoice(invoice_id, {"Status": status},
                               idempotency_key("cancel", invoice_id, status))
        return "voided"

    def _take_back_credit(self, draft: XeroInvoiceDraft, current: dict[str, Any]) -> None:
        invoice_id = str(current["InvoiceID"])
        ours = [c for c in current.get("CreditNotes") or []
                if str(c.get("CreditNoteNumber") or "").startswith(f"{draft.invoice_number}-R")]
        for held in ours:
            note = self.xero.credit_note(str(held["CreditNoteID"]))
            for allocation in note.get("Allocations") or []:
                if (allocation.get("Invoice") or {}).get("InvoiceID") == invoice_id:
                    self.xero.delete_allocation(
                        str(held["CreditNoteID"]), str(allocation["AllocationID"]),
                        idempotency_key("unallocate", str(held["CreditNoteID"]),
                                        str(allocation["AllocationID"])))
            self.xero.void_credit_note(str(held["CreditNoteID"]),
                                       idempotency_key("void-note", str(held["CreditNoteID"])))
        if ours:
            current.update(self.xero.invoice(invoice_id))

    def _take_back_payments(self, draft: XeroInvoiceDraft, current: dict[str, Any]) -> None:
        for payment in current.get("Payments") or []:
            self.xero.delete_payment(str(payment["PaymentID"]),
                                     idempotency_key("unpay", str(payment["PaymentID"])))
        if current.get("Payments"):
            current.update(self.xero.invoice(str(current["InvoiceID"])))

    def _credit(self, draft: XeroInvoiceDraft, current: dict[str, Any]) -> dict[str, Any]:
        """Each refund not yet on the invoice becomes a credit note allocated to it."""
        held = {c.get("CreditNoteNumber") for c in current.get("CreditNotes") or []}
        missing = [c for c in draft.credit_notes if c.number not in held]
        if not missing:
            return current
        invoice_id = str(current["InvoiceID"])
        if current.get("Payments") and _dec(current["AmountDue"]) < sum(
                (c.total for c in missing), Decimal(0)):
            self._take_back_payments(draft, current)  # room for the credit: re-paid below
        # The invoice's version is in each key: a crash before the allocation re-runs on the
        # same version (the same credit note is answered), while a credit note someone
        # deleted since is written again rather than answered from Xero's replay.
        version = str(current.get("UpdatedDateUTC"))
        for note in missing:
            body = note.to_xero(draft.contact(), draft.currency, draft.reference)
            saved = self.xero.put_credit_note(
                body, idempotency_key("creditnote", draft.source_id, note.number,
                                      str(note.total), version))
            self.xero.allocate(str(saved["CreditNoteID"]), invoice_id, str(note.total),
                               note.on, idempotency_key("allocate", str(saved["CreditNoteID"]),
                                                        invoice_id, version))
        return self.xero.invoice(invoice_id)

    def _pay(self, draft: XeroInvoiceDraft, current: dict[str, Any]) -> dict[str, Any]:
        """The clearing account holds what the order holds: `draft.paid`."""
        invoice_id = str(current["InvoiceID"])
        paid = sum((_dec(p.get("Amount")) for p in current.get("Payments") or []), Decimal(0))
        if paid > draft.paid:
            self._take_back_payments(draft, current)
            paid = Decimal(0)
        if draft.paid > paid:
            amount = draft.paid - paid
            self.xero.put_payment(
                {"Invoice": {"InvoiceID": invoice_id},
                 "Account": {"Code": draft.clearing_account}, "Date": draft.on.isoformat(),
                 "Amount": float(amount), "Reference": draft.reference},
                # The invoice's version: a payment someone deleted is paid again, not replayed.
                idempotency_key("payment", invoice_id, str(amount), str(paid),
                                str(current.get("UpdatedDateUTC"))))
            return self.xero.invoice(invoice_id)
        return current

    def _find(self, entry: LedgerEntry | None, candidates: list[dict[str, Any]],
              draft: XeroInvoiceDraft) -> tuple[dict[str, Any] | None, bool]:
        """The order's invoice: the ledger's, else the oldest live one with its number that
        carries our marker; one without the marker is a conflict (or adopted)."""
        if entry is not None and entry.destination_id:
            for invoice in candidates:
                if invoice["InvoiceID"] == entry.destination_id:
                    return invoice, False
            try:
                return self.xero.invoice(entry.destination_id), False
            except PermanentVendorError as exc:
                if exc.status != 404:
                    raise
        live = [i for i in candidates if i.get("Status") != "DELETED"]
        if not live:
            return None, False
        marker = f"{self.owner_marker}{draft.source_id}"
        ours = [i for i in live if marker in (i.get("Reference") or "")]
        if ours:
            return ours[0], False
        if self.adopt_existing:
            return live[0], True
        found = live[0]
        raise DestinationConflict(
            f"Xero already holds invoice {found.get('InvoiceNumber')} ({found['InvoiceID']}, "
            f"{found.get('Status')}, total {found.get('Total')} {found.get('CurrencyCode')}) "
            f"that this integration did not write (no {marker} in its Reference); "
            f"{self.source_label} {draft.source_id} was not written over it. Renumber or "
            "delete the other invoice, or set the catalog's xero.existing_invoices to adopt, "
            "then replay this dead letter.")


_REFUSED = re.compile("[\U00010000-\U0010FFFF\x00-\x1f\x7f\\\\]")


def _escaped(text: str) -> str:
    """`text` with what Xero refuses in a note (4-byte characters, control characters)
    written as Python escapes ("\\U0001f984", "\\x07"; a backslash doubled), everything
    else as it is: the original can be read back exactly."""
    return _REFUSED.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def _batches(new: list[tuple[XeroInvoiceDraft, int]]
             ) -> list[list[tuple[XeroInvoiceDraft, int]]]:
    """The new invoices in requests of at most `BATCH_SIZE` and `MAX_REQUEST_BYTES`."""
    batches: list[list[tuple[XeroInvoiceDraft, int]]] = []
    size = 0
    for item in new:
        body = len(json.dumps(item[0].to_xero()).encode())
        if not batches or len(batches[-1]) == BATCH_SIZE or size + body > MAX_REQUEST_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(item)
        size += body
    return batches


def _lines_differ(current: dict[str, Any], draft: XeroInvoiceDraft) -> bool:
    """The invoice's lines are not the draft's (amounts, tax, descriptions)."""
    held = [(line.get("Description"), _dec(line.get("LineAmount")), _dec(line.get("TaxAmount")),
             line.get("TaxType")) for line in current.get("LineItems") or []]
    wanted = [(ln.description, ln.amount.quantize(CENT), ln.tax.quantize(CENT), ln.tax_type)
              for ln in draft.lines]
    return held != wanted
