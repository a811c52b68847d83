"""The Shopify order as this project understands it.

Money arrives as strings ("199.00"); a number or an object where a string was is vendor
contract drift and must fail validation, not be coerced. Ids are 64-bit integers (beyond
2**53: never floats). Unknown fields are kept (`extra="allow"`) so drift can be reported.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _money_string(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(f"money must be a decimal string, got {type(value).__name__}")
    return value


Money = Annotated[Decimal, BeforeValidator(_money_string)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class MoneyAmount(_Model):
    amount: Money
    currency_code: str


class MoneySet(_Model):
    """Shopify's pair of amounts: in the shop's currency and in the customer's."""

    shop_money: MoneyAmount
    presentment_money: MoneyAmount


class TaxLine(_Model):
    title: str | None = None
    price: Money
    rate: float | None = None
    price_set: MoneySet | None = None


class DiscountAllocation(_Model):
    amount: Money
    amount_set: MoneySet | None = None


class LineItem(_Model):
    id: int
    title: str
    quantity: int
    price: Money
    price_set: MoneySet
    sku: str | None = None
    total_discount: Money | None = None
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)


class ShippingLine(_Model):
    id: int | None = None
    title: str | None = None
    price: Money
    price_set: MoneySet


class Customer(_Model):
    id: int
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


class RefundTransaction(_Model):
    id: int | None = None
    kind: str
    status: str | None = None
    amount: Money
    currency: str | None = None


class Refund(_Model):
    id: int
    created_at: datetime
    note: str | None = None
    transactions: list[RefundTransaction] = Field(default_factory=list)


class DiscountCode(_Model):
    code: str
    amount: Money
    type: str | None = None


class Order(_Model):
    """A Shopify order (REST Admin API), the fields the integrations rely on."""

    id: int
    name: str
    order_number: int
    email: str | None = None
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    financial_status: str | None = None
    currency: str
    presentment_currency: str
    total_price: Money
    subtotal_price: Money
    total_tax: Money
    total_discounts: Money
    total_price_set: MoneySet
    subtotal_price_set: MoneySet
    total_tax_set: MoneySet
    total_discounts_set: MoneySet
    line_items: list[LineItem]
    shipping_lines: list[ShippingLine] = Field(default_factory=list)
    discount_codes: list[DiscountCode] = Field(default_factory=list)
    refunds: list[Refund] = Field(default_factory=list)
    customer: Customer | None = None
    tags: str | None = None
