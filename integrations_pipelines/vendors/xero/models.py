"""Xero Accounting documents as this project reads them back.

Amounts arrive as JSON numbers and are parsed into Decimal (a string where a number was is
contract drift and fails validation); the figures reconciliation compares (`Total`,
`TotalTax`, `AmountDue`, `AmountCredited`, `AmountPaid`) are Xero's own arithmetic, never
numbers we sent. Unknown fields are kept (`extra="allow"`) and recorded as drift unless
listed in `known_extra` (fields Xero documents that we deliberately do not model).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict

__all__ = ["Allocation", "CreditNote", "Invoice", "InvoiceCreditNote", "InvoicePayment",
           "LineItem", "Number", "Payment", "TaxRate"]


def _json_number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"amount must be a JSON number, got {type(value).__name__}")
    return value


Number = Annotated[Decimal, BeforeValidator(_json_number)]

_DOCUMENT_EXTRA = frozenset({
    "Contact", "DateString", "DueDate", "DueDateString", "BrandingThemeID", "Url",
    "SentToContact", "ExpectedPaymentDate", "PlannedPaymentDate", "HasAttachments",
    "HasErrors", "IsDiscounted", "Attachments", "Prepayments", "Overpayments", "Warnings",
    "ValidationErrors", "StatusAttributeString", "RepeatingInvoiceID", "FullyPaidOnDate",
    "SubTotal", "TotalDiscount", "CISDeduction", "CISRate", "Allocations",
    "RemainingCredit", "AppliedAmount",
})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    known_extra: ClassVar[frozenset[str]] = frozenset()


class LineItem(_Model):
    """One line of an invoice or credit note, with the tax Xero holds for it."""

    Description: str | None = None
    LineAmount: Number | None = None
    TaxType: str | None = None
    TaxAmount: Number | None = None

    known_extra = frozenset({"LineItemID", "Quantity", "UnitAmount", "AccountCode",
                             "AccountID", "ItemCode", "Item", "DiscountRate",
                             "DiscountAmount", "Tracking", "TaxAmountOverride"})


class InvoicePayment(_Model):
    """A payment as the invoice lists it."""

    PaymentID: str
    Amount: Number

    known_extra = frozenset({"Date", "Reference", "CurrencyRate", "HasAccount",
                             "HasValidationErrors", "Status"})


class InvoiceCreditNote(_Model):
    """A credit note allocated to the invoice, as the invoice lists it."""

    CreditNoteID: str
    CreditNoteNumber: str | None = None
    Total: Number | None = None
    AppliedAmount: Number | None = None

    known_extra = frozenset({"Date", "DateString", "ID", "SubTotal", "TotalTax",
                             "HasErrors", "Reference"})


class Invoice(_Model):
    """An ACCREC invoice; `InvoiceNumber` carries the order's external key and `Reference`
    our ownership marker."""

    InvoiceID: str
    Type: str
    Status: str
    InvoiceNumber: str | None = None
    Reference: str | None = None
    CurrencyCode: str
    CurrencyRate: Number | None = None
    LineAmountTypes: str | None = None
    Date: str | None = None
    Total: Number
    TotalTax: Number
    AmountDue: Number
    AmountPaid: Number
    AmountCredited: Number
    UpdatedDateUTC: str | None = None
    LineItems: list[LineItem] = []
    Payments: list[InvoicePayment] = []
    CreditNotes: list[InvoiceCreditNote] = []

    known_extra = _DOCUMENT_EXTRA


class Allocation(_Model):
    """Part of a credit note allocated to an invoice."""

    Amount: Number
    Invoice: dict[str, object]
    AllocationID: str | None = None

    known_extra = frozenset({"Date", "IsDeleted", "StatusAttributeString",
                             "ValidationErrors"})


class CreditNote(_Model):
    """An ACCRECCREDIT credit note (a refund), with its allocations."""

    CreditNoteID: str
    Type: str
    Status: str
    CreditNoteNumber: str | None = None
    Reference: str | None = None
    CurrencyCode: str
    Total: Number
    TotalTax: Number
    RemainingCredit: Number | None = None
    UpdatedDateUTC: str | None = None
    LineItems: list[LineItem] = []
    Allocations: list[Allocation] = []

    known_extra = _DOCUMENT_EXTRA - {"RemainingCredit", "Allocations"} | {"CurrencyRate",
                                                            "LineAmountTypes", "Date",
                                                            "Payments", "AmountDue",
                                                            "AmountPaid", "AmountCredited"}


class Payment(_Model):
    """A payment of an invoice into the clearing account."""

    PaymentID: str
    Amount: Number
    Status: str | None = None

    known_extra = frozenset({"Date", "Reference", "Invoice", "Account", "CurrencyRate",
                             "PaymentType", "UpdatedDateUTC", "HasAccount",
                             "IsReconciled", "HasValidationErrors", "ValidationErrors",
                             "BankAmount", "StatusAttributeString"})


class TaxRate(_Model):
    """One tax rate of the organisation: the `EffectiveRate` (percent) behind a TaxType."""

    TaxType: str
    EffectiveRate: Number
    Name: str | None = None
    Status: str | None = None

    known_extra = frozenset({"DisplayTaxRate", "CanApplyToRevenue", "CanApplyToAssets",
                             "CanApplyToEquity", "CanApplyToExpenses",
                             "CanApplyToLiabilities", "TaxComponents", "ReportTaxType"})
