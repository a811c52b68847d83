"""QuickBooks Online entities as this project reads them back.

Amounts arrive as JSON numbers; they are parsed into Decimal. Unknown fields are kept so
drift can be reported; a missing required field fails validation loudly.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Ref(_Model):
    value: str
    name: str | None = None


class SalesItemLineDetail(_Model):
    ItemRef: Ref | None = None
    Qty: Decimal | None = None
    UnitPrice: Decimal | None = None


class InvoiceLine(_Model):
    Id: str | None = None
    Amount: Decimal
    DetailType: str
    Description: str | None = None
    SalesItemLineDetail: SalesItemLineDetail | None = None


class TxnTaxDetail(_Model):
    TotalTax: Decimal = Decimal("0")


class MetaData(_Model):
    CreateTime: str | None = None
    LastUpdatedTime: str | None = None


class EmailAddress(_Model):
    Address: str | None = None


class Invoice(_Model):
    """A QuickBooks invoice; `DocNumber` carries the source order's external key."""

    Id: str
    SyncToken: str
    DocNumber: str | None = None
    TxnDate: str
    CustomerRef: Ref
    CurrencyRef: Ref | None = None
    ExchangeRate: Decimal | None = None
    Line: list[InvoiceLine] = Field(default_factory=list)
    TxnTaxDetail: TxnTaxDetail | None = None
    TotalAmt: Decimal
    Balance: Decimal | None = None
    PrivateNote: str | None = None
    BillEmail: EmailAddress | None = None
    MetaData: MetaData | None = None

    @property
    def voided(self) -> bool:
        """QuickBooks marks a voided invoice only by zeroed amounts and its private note."""
        return (self.PrivateNote or "").startswith("Voided")


class Customer(_Model):
    Id: str
    SyncToken: str
    DisplayName: str
    CurrencyRef: Ref | None = None
