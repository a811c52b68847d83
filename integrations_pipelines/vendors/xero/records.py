"""Xero invoices as raw records: what the raw store keys, dates and versions them by.

- kind: `xero` / `invoices` / the tenant id;
- key: the `InvoiceID`; day: its `Date`; external key: its `InvoiceNumber`;
- version: `UpdatedDateUTC` (MS-JSON), Xero's own clock of the document;
- facts: the figures Xero computes (`Total`, `TotalTax`, `AmountDue`, `AmountCredited`,
  `AmountPaid` as decimal text), `Status`, currency and number.

Credit notes (`xero` / `credit_notes` / the tenant id) are kept beside the invoices they
belong to: keyed by `CreditNoteID`, versioned by `UpdatedDateUTC`, and filed under the
business day of their invoice (a refund weeks later still belongs to its order's day), so
the day's read-back replaces the day's invoices and their credit notes together.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from integrations_pipelines.state.raw import RawRecord, RecordKind
from integrations_pipelines.vendors.xero.dates import parse_xero_date
from integrations_pipelines.vendors.xero.writer import updated_at

__all__ = ["CREDIT_NOTES", "INVOICES", "SYSTEM", "credit_note_record", "credit_notes_kind",
           "invoice_record", "invoices_kind"]

SYSTEM = "xero"
INVOICES = "invoices"
CREDIT_NOTES = "credit_notes"
FIGURES = ("Total", "TotalTax", "AmountDue", "AmountCredited", "AmountPaid")


def invoices_kind(tenant_id: str) -> RecordKind:
    """The invoices of one Xero organisation."""
    return RecordKind(SYSTEM, INVOICES, tenant_id)


def credit_notes_kind(tenant_id: str) -> RecordKind:
    """The credit notes of one Xero organisation."""
    return RecordKind(SYSTEM, CREDIT_NOTES, tenant_id)


def credit_note_record(note: dict[str, Any], day: date) -> RawRecord:
    """One credit note as Xero returned it, filed under its invoice's day `day`."""
    return RawRecord(
        record_key=str(note["CreditNoteID"]), business_date=day, version=updated_at(note),
        external_key=note.get("CreditNoteNumber"),
        facts={"number": note.get("CreditNoteNumber"), "status": note.get("Status"),
               "currency": note.get("CurrencyCode"),
               **{f.lower(): str(Decimal(str(note.get(f) or 0)))
                  for f in ("Total", "TotalTax", "RemainingCredit")}},
        payload=dict(note))


def invoice_record(invoice: dict[str, Any]) -> RawRecord:
    """One invoice as Xero returned it, shaped for the raw store."""
    day = parse_xero_date(invoice.get("Date"))
    if day is None:
        raise ValueError(f"Xero invoice {invoice.get('InvoiceID')} has no Date")
    return RawRecord(
        record_key=str(invoice["InvoiceID"]), business_date=day, version=updated_at(invoice),
        external_key=invoice.get("InvoiceNumber"),
        facts={"number": invoice.get("InvoiceNumber"), "status": invoice.get("Status"),
               "currency": invoice.get("CurrencyCode"),
               **{f.lower(): str(Decimal(str(invoice.get(f) or 0))) for f in FIGURES}},
        payload=dict(invoice))
