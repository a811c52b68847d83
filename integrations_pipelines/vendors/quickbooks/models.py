"""QuickBooks Online entities as this project reads them back.

Amounts arrive as JSON numbers and are parsed into Decimal; a string where a number was is
contract drift and fails validation (it is not coerced), as does a missing required field.
Unknown fields are kept (`extra="allow"`) so drift can be reported: `known_extra` lists the
fields QuickBooks documents that we deliberately do not model; any other extra field is new,
and `vendors/contracts.py` records it as drift.

The nested models are named `...Model` because QuickBooks names its fields after their
types (`SalesItemLineDetail: SalesItemLineDetail`), which a class attribute would shadow.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "ENTITY_MODELS",
    "Customer",
    "EmailAddress",
    "Invoice",
    "InvoiceLine",
    "MetaDataModel",
    "Number",
    "Ref",
    "SalesItemLineDetailModel",
    "TxnTaxDetailModel",
]


def _json_number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(f"amount must be a JSON number, got {type(value).__name__}")
    return value


Number = Annotated[Decimal, BeforeValidator(_json_number)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    # Documented vendor fields we do not model: extra, but not drift.
    known_extra: ClassVar[frozenset[str]] = frozenset()


class Ref(_Model):
    value: str
    name: str | None = None

    known_extra = frozenset({"type"})


class SalesItemLineDetailModel(_Model):
    ItemRef: Ref | None = None
    Qty: Number | None = None
    UnitPrice: Number | None = None

    known_extra = frozenset({
        "ClassRef", "DiscountAmt", "DiscountRate", "ItemAccountRef", "MarkupInfo",
        "PriceLevelRef", "ServiceDate", "TaxClassificationRef", "TaxCodeRef",
        "TaxInclusiveAmt",
    })


class InvoiceLine(_Model):
    Id: str | None = None
    Amount: Number
    DetailType: str
    Description: str | None = None
    SalesItemLineDetail: SalesItemLineDetailModel | None = None

    known_extra = frozenset({
        "CustomField", "DescriptionLineDetail", "DiscountLineDetail", "GroupLineDetail",
        "LineNum", "LinkedTxn", "SubTotalLineDetail",
    })


class TxnTaxDetailModel(_Model):
    TotalTax: Number = Decimal("0")

    known_extra = frozenset({"TaxLine", "TxnTaxCodeRef"})


class MetaDataModel(_Model):
    CreateTime: str | None = None
    LastUpdatedTime: str | None = None

    known_extra = frozenset({"LastModifiedByRef"})


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
    ExchangeRate: Number | None = None
    Line: list[InvoiceLine] = Field(default_factory=list)
    TxnTaxDetail: TxnTaxDetailModel | None = None
    TotalAmt: Number
    Balance: Number | None = None
    PrivateNote: str | None = None
    BillEmail: EmailAddress | None = None
    MetaData: MetaDataModel | None = None

    known_extra = frozenset({
        "AllowIPNPayment", "AllowOnlineACHPayment", "AllowOnlineCreditCardPayment",
        "AllowOnlinePayment", "ApplyTaxAfterDiscount", "BillAddr", "BillEmailBcc",
        "BillEmailCc", "ClassRef", "CustomField", "CustomerMemo", "DeliveryInfo",
        "DepartmentRef", "Deposit", "DepositToAccountRef", "DueDate", "EmailStatus",
        "FreeFormAddress", "GlobalTaxCalculation", "HomeBalance", "HomeTotalAmt",
        "InvoiceLink", "LinkedTxn", "PrintStatus", "ProjectRef", "RecurDataRef",
        "SalesTermRef", "ShipAddr", "ShipDate", "ShipFromAddr", "ShipMethodRef",
        "TaxExemptionRef", "TrackingNum", "TransactionLocationType", "TxnSource", "TxnStatus",
        "domain", "sparse", "status",
    })

    @property
    def voided(self) -> bool:
        """QuickBooks marks a voided invoice only by zeroed amounts and its private note."""
        return (self.PrivateNote or "").startswith("Voided")


class Customer(_Model):
    Id: str
    SyncToken: str
    DisplayName: str
    CurrencyRef: Ref | None = None

    known_extra = frozenset({
        "ARAccountRef", "Active", "AlternatePhone", "Balance", "BalanceWithJobs", "BillAddr",
        "BillWithParent", "BusinessNumber", "ClientEntityId", "CompanyName",
        "CustomerTypeRef", "DefaultTaxCodeRef", "FamilyName", "Fax", "FullyQualifiedName",
        "GSTIN", "GSTRegistrationType", "GivenName", "IsProject", "Job", "Level", "MetaData",
        "MiddleName", "Mobile", "Notes", "OpenBalanceDate", "ParentRef", "PaymentMethodRef",
        "PreferredDeliveryMethod", "PrimaryEmailAddr", "PrimaryPhone", "PrimaryTaxIdentifier",
        "PrintOnCheckName", "ResaleNum", "SalesTermRef", "SecondaryTaxIdentifier", "ShipAddr",
        "Source", "Suffix", "TaxExemptionReasonId", "Taxable", "Title", "V4IDPseudonym",
        "WebAddr", "domain", "sparse",
    })


# The model each queried entity is validated against.
ENTITY_MODELS: dict[str, type[_Model]] = {"Invoice": Invoice, "Customer": Customer}
