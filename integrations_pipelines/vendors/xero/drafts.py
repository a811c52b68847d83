"""What one Shopify order should be in Xero: an ACCREC invoice as sold, its refunds as
credit notes allocated to it, and (when the order is paid) the payment of what is left into
a clearing account. Built by the pair's mapping; written by `writer.DocumentWriter`.

Amounts are Decimals of the document's currency with two places; `to_xero` shapes the
bodies Xero takes (line `DiscountAmount` for discounts, `TaxType` and `TaxAmount` per line,
`LineAmountTypes` for the tax basis, no `CurrencyRate`: Xero applies its own daily rate).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

__all__ = ["CreditNoteDraft", "XeroInvoiceDraft", "XeroLine"]

CENT = Decimal("0.01")


def _money(value: Decimal) -> float:
    return float(value.quantize(CENT))


@dataclass(frozen=True)
class XeroLine:
    """One line: `quantity` x `unit_amount` less `discount`, booked to `account_code`
    under `tax_type` with Shopify's tax on it (`tax`)."""

    description: str
    quantity: int
    unit_amount: Decimal
    discount: Decimal
    account_code: str
    tax_type: str
    tax: Decimal

    @property
    def amount(self) -> Decimal:
        """The line amount Xero computes: quantity x unit amount less the discount."""
        return self.unit_amount * self.quantity - self.discount

    def to_xero(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "Description": self.description, "Quantity": self.quantity,
            "UnitAmount": _money(self.unit_amount), "AccountCode": self.account_code,
            "TaxType": self.tax_type, "TaxAmount": _money(self.tax)}
        if self.discount:
            line["DiscountAmount"] = _money(self.discount)
        return line


def _total(lines: tuple[XeroLine, ...], inclusive: bool) -> Decimal:
    amounts = sum((ln.amount for ln in lines), Decimal(0))
    return amounts if inclusive else amounts + sum((ln.tax for ln in lines), Decimal(0))


@dataclass(frozen=True)
class CreditNoteDraft:
    """One Shopify refund as an ACCRECCREDIT credit note allocated to the invoice."""

    number: str  # CreditNoteNumber: the refund's external key
    refund_id: str
    on: date
    lines: tuple[XeroLine, ...]
    inclusive: bool

    @property
    def total(self) -> Decimal:
        return _total(self.lines, self.inclusive)

    def to_xero(self, contact: dict[str, Any], currency: str, reference: str) -> dict[str, Any]:
        return {"Type": "ACCRECCREDIT", "Contact": contact, "Date": self.on.isoformat(),
                "CreditNoteNumber": self.number, "Reference": reference,
                "CurrencyCode": currency, "Status": "AUTHORISED",
                "LineAmountTypes": "Inclusive" if self.inclusive else "Exclusive",
                "LineItems": [ln.to_xero() for ln in self.lines]}


@dataclass(frozen=True)
class XeroInvoiceDraft:
    """The desired state of one order in Xero (the engine's `Draft`).

    `reference` is our ownership marker ("shopify:order:<id> #1001"): an invoice with our
    number but without it was not written by this integration. `paid` is what the clearing
    account received for the order (0: unpaid, the invoice stays AUTHORISED). `normalised`
    names each text that had to change for Xero, with its original.
    """

    source_id: str
    invoice_number: str
    reference: str
    on: date
    contact_name: str
    email: str | None
    currency: str
    inclusive: bool
    lines: tuple[XeroLine, ...]
    credit_notes: tuple[CreditNoteDraft, ...]
    paid: Decimal
    clearing_account: str
    voided: bool
    normalised: tuple[tuple[str, str], ...] = ()

    @property
    def external_key(self) -> str:
        return self.invoice_number

    @property
    def total(self) -> Decimal:
        """The invoice's total as sold (Xero's `Total` must say the same)."""
        return _total(self.lines, self.inclusive)

    @property
    def tax(self) -> Decimal:
        return sum((ln.tax for ln in self.lines), Decimal(0))

    @property
    def credited(self) -> Decimal:
        return sum((c.total for c in self.credit_notes), Decimal(0))

    def contact(self) -> dict[str, Any]:
        """Xero finds the contact by its name, or creates it."""
        found: dict[str, Any] = {"Name": self.contact_name}
        if self.email:
            found["EmailAddress"] = self.email
        return found

    def to_xero(self) -> dict[str, Any]:
        return {"Type": "ACCREC", "Contact": self.contact(), "Date": self.on.isoformat(),
                "DueDate": self.on.isoformat(), "InvoiceNumber": self.invoice_number,
                "Reference": self.reference, "CurrencyCode": self.currency,
                "Status": "AUTHORISED",
                "LineAmountTypes": "Inclusive" if self.inclusive else "Exclusive",
                "LineItems": [ln.to_xero() for ln in self.lines]}

    def payload_hash(self) -> str:
        """The desired state's digest: the ledger skips an order whose digest is unchanged."""
        text = json.dumps(asdict(self), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()
