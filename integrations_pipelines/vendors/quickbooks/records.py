"""QuickBooks invoices as raw records: what the raw store keys, dates and versions them by.

- kind: `quickbooks` / `invoices` / the company's realm id;
- key: the invoice `Id`; day: its `TxnDate`; external key: its `DocNumber`;
- version: `MetaData.LastUpdatedTime`, QuickBooks' own clock of the record, as a timestamp
  (`writer.last_updated`): orderable, and comparable with the ledger's
  `destination_updated_at`. `SyncToken` is kept as a fact, not used as the version: it is a
  per-record counter sent as text ("10" sorts before "9") that says nothing across records.
  An invoice without `MetaData` is versioned at its extraction time by the store;
- facts: `doc_number`, `sync_token`, `currency`, `total_amt` (the decimal as text) and
  `voided` (`writer.is_voided`, the one definition of the rule).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from integrations_pipelines.state.raw import RawRecord, RecordKind
from integrations_pipelines.vendors.quickbooks.writer import is_voided, last_updated

__all__ = ["INVOICES", "SYSTEM", "VOIDED", "invoice_record", "invoices_kind"]

SYSTEM = "quickbooks"
INVOICES = "invoices"
VOIDED = "voided"  # the boolean fact of a voided invoice


def invoices_kind(realm_id: str) -> RecordKind:
    """The invoices of one QuickBooks company."""
    return RecordKind(SYSTEM, INVOICES, realm_id)


def invoice_record(invoice: dict[str, Any]) -> RawRecord:
    """One invoice as QuickBooks returned it, shaped for the raw store."""
    doc_number = invoice.get("DocNumber")
    return RawRecord(
        record_key=str(invoice["Id"]),
        business_date=date.fromisoformat(invoice["TxnDate"]),
        version=last_updated(invoice),
        external_key=doc_number,
        facts={
            "doc_number": doc_number,
            "sync_token": str(invoice["SyncToken"]),
            "currency": (invoice.get("CurrencyRef") or {}).get("value"),
            "total_amt": str(Decimal(str(invoice["TotalAmt"]))),
            VOIDED: is_voided(invoice),
        },
        payload=dict(invoice),
    )
