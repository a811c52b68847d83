"""What a pair asks QuickBooks to hold: an invoice and its customer, as drafts.

A draft is the desired state of one invoice for one source version, in QuickBooks' terms;
its `payload_hash` is what the ledger compares to know whether anything needs writing. Any
pair into QuickBooks builds these; the writer (`writer.py`) turns them into API bodies.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

__all__ = ["CustomerDraft", "InvoiceDraft", "LineDraft"]

UNIT_PRICE = Decimal("0.0000001")  # QuickBooks keeps 7 decimals of a unit price


@dataclass(frozen=True)
class CustomerDraft:
    """A customer as QuickBooks is to receive it; `tag` ends its DisplayName and finds it
    again."""

    display_name: str
    tag: str
    given_name: str | None
    family_name: str | None
    email: str | None
    currency: str

    def to_qbo(self) -> dict[str, Any]:
        """The customer body QuickBooks expects."""
        body: dict[str, Any] = {"DisplayName": self.display_name,
                                "CurrencyRef": {"value": self.currency}}
        if self.given_name:
            body["GivenName"] = self.given_name
        if self.family_name:
            body["FamilyName"] = self.family_name
        if self.email:
            body["PrimaryEmailAddr"] = {"Address": self.email}
        return body


@dataclass(frozen=True)
class LineDraft:
    """One invoice line: `qty` None books the amount alone (a refunded line's rounding)."""

    item_id: str
    description: str
    qty: int | None
    amount: Decimal
    tax_code: str

    def to_qbo(self) -> dict[str, Any]:
        """The line body QuickBooks expects."""
        detail: dict[str, Any] = {"ItemRef": {"value": self.item_id},
                                  "TaxCodeRef": {"value": self.tax_code}}
        if self.qty:
            detail["Qty"] = self.qty
            detail["UnitPrice"] = float((self.amount / self.qty).quantize(UNIT_PRICE))
        return {"Amount": float(self.amount), "Description": self.description,
                "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": detail}


@dataclass(frozen=True)
class InvoiceDraft:
    """The desired state of the invoice for one order version."""

    source_id: str
    doc_number: str
    txn_date: date
    customer: CustomerDraft
    currency: str
    exchange_rate: Decimal
    lines: tuple[LineDraft, ...]
    tax: Decimal
    tax_by_code: tuple[tuple[str, Decimal], ...]  # non-US: TaxLine amounts per tax code
    global_tax: str | None  # non-US: GlobalTaxCalculation
    txn_tax_code: str | None  # US manual sales tax: TxnTaxCodeRef
    email: str | None
    private_note: str
    voided: bool

    @property
    def external_key(self) -> str:
        """The key the invoice is found by again (its DocNumber)."""
        return self.doc_number

    @property
    def total(self) -> Decimal:
        """The TotalAmt QuickBooks will compute from this draft."""
        lines = sum((ln.amount for ln in self.lines), Decimal(0))
        return lines if self.global_tax == "TaxInclusive" else lines + self.tax

    def to_qbo(self, customer_id: str) -> dict[str, Any]:
        """The invoice body QuickBooks expects (create, or the fields of a sparse update)."""
        lines = [ln.to_qbo() for ln in self.lines] or [
            {"Amount": 0, "DetailType": "DescriptionOnly", "Description": "Fully refunded",
             "DescriptionLineDetail": {}}]
        tax: dict[str, Any] = {"TotalTax": float(self.tax)}
        if self.txn_tax_code:
            tax["TxnTaxCodeRef"] = {"value": self.txn_tax_code}
        if self.global_tax:
            tax["TaxLine"] = [{"Amount": float(amount), "DetailType": "TaxLineDetail",
                               "TaxLineDetail": {"TaxRateRef": {"value": code}}}
                              for code, amount in self.tax_by_code]
        body: dict[str, Any] = {
            "DocNumber": self.doc_number,
            "TxnDate": self.txn_date.isoformat(),
            "CustomerRef": {"value": customer_id},
            "CurrencyRef": {"value": self.currency},
            "ExchangeRate": float(self.exchange_rate),
            "Line": lines,
            "TxnTaxDetail": tax,
            "PrivateNote": self.private_note,
        }
        if self.global_tax:
            body["GlobalTaxCalculation"] = self.global_tax
        if self.email:
            body["BillEmail"] = {"Address": self.email}
        return body

    def payload_hash(self) -> str:
        """Fingerprint of the desired state: unchanged hash means nothing to write."""
        canonical = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()
