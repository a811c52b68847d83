"""The Shopify order as this project understands it.

Money arrives as strings ("199.00"); a number or an object where a string was is vendor
contract drift and must fail validation, not be coerced. Ids and counts are strict JSON
integers (64-bit ids go beyond 2**53: never floats, and a string id is drift too). Unknown
fields are kept (`extra="allow"`) so drift can be reported: `known_extra` lists, per model,
the fields Shopify documents that we deliberately do not model; any other extra field is
new, and `vendors/contracts.py` records it as drift.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictInt, model_validator

__all__ = [
    "Customer", "DiscountAllocation", "DiscountCode", "Duty", "LineItem", "Money", "MoneyAmount",
    "MoneySet", "Order", "OrderAdjustment", "OrderCount", "Refund", "RefundLineItem",
    "RefundMoney", "RefundMoneyAmount", "RefundMoneySet", "RefundShippingLine",
    "RefundTransaction", "ShippingLine", "TaxLine",
]


def _money_string(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError(f"money must be a decimal string, got {type(value).__name__}")
    return value


Money = Annotated[Decimal, BeforeValidator(_money_string)]


def _money_number(value: object) -> object:
    # Refund line money is a JSON number in stored refunds (`"subtotal": 195.66`) and a
    # string in `refunds/calculate` answers; either is exact once read through str().
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"refund money must be a number or a decimal string, got "
                         f"{type(value).__name__}")
    return str(value)


RefundMoney = Annotated[Decimal, BeforeValidator(_money_number)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    # Documented vendor fields we do not model: extra, but not drift.
    known_extra: ClassVar[frozenset[str]] = frozenset()


class MoneyAmount(_Model):
    amount: Money
    currency_code: str


class MoneySet(_Model):
    """Shopify's pair of amounts: in the shop's currency and in the customer's."""

    shop_money: MoneyAmount
    presentment_money: MoneyAmount


class RefundMoneyAmount(_Model):
    amount: RefundMoney
    currency_code: str


class RefundMoneySet(_Model):
    """A money pair inside a refund, where Shopify's own examples use numbers as well."""

    shop_money: RefundMoneyAmount
    presentment_money: RefundMoneyAmount


class TaxLine(_Model):
    title: str | None = None
    price: Money
    rate: float | None = None
    price_set: MoneySet | None = None

    known_extra = frozenset({"channel_liable"})


class DiscountAllocation(_Model):
    amount: Money
    amount_set: MoneySet | None = None

    known_extra = frozenset({"discount_application_index"})


class Duty(_Model):
    """An import duty charged on a line (orders shipped duties-paid).

    The REST reference shows the duty's money at the top level (`shop_money`,
    `presentment_money`) and its id as a string ("2"); some SDKs serialise a `price_set`
    instead. Either is accepted; `presentment` reads whichever is there.
    """

    id: StrictInt | str | None = None
    shop_money: MoneyAmount | None = None
    presentment_money: MoneyAmount | None = None
    price_set: MoneySet | None = None
    tax_lines: list[TaxLine] = Field(default_factory=list)

    known_extra = frozenset({
        "admin_graphql_api_id", "country_code_of_origin", "harmonized_system_code",
    })

    @model_validator(mode="after")
    def _has_money(self) -> Duty:
        if self.presentment_money is None and self.price_set is None:
            raise ValueError("a duty needs presentment_money or price_set")
        return self

    @property
    def presentment(self) -> Decimal:
        """The duty in the customer's currency."""
        if self.price_set is not None:
            return self.price_set.presentment_money.amount
        assert self.presentment_money is not None
        return self.presentment_money.amount


class LineItem(_Model):
    id: StrictInt
    title: str
    quantity: StrictInt
    price: Money
    price_set: MoneySet
    sku: str | None = None
    total_discount: Money | None = None
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)
    gift_card: bool = False
    duties: list[Duty] = Field(default_factory=list)

    known_extra = frozenset({
        "admin_graphql_api_id", "attributed_staffs", "current_quantity", "destination_location",
        "fulfillable_quantity", "fulfillment_service", "fulfillment_status",
        "grams", "name", "origin_location", "pre_tax_price", "pre_tax_price_set",
        "product_exists", "product_id", "properties", "requires_shipping",
        "sales_line_item_group_id", "taxable", "total_discount_set", "variant_id",
        "variant_inventory_management", "variant_title", "vendor",
    })


class ShippingLine(_Model):
    id: StrictInt | None = None
    title: str | None = None
    price: Money
    price_set: MoneySet
    discounted_price_set: MoneySet | None = None
    discount_allocations: list[DiscountAllocation] = Field(default_factory=list)
    tax_lines: list[TaxLine] = Field(default_factory=list)
    is_removed: bool = False

    known_extra = frozenset({
        "carrier_identifier", "code", "current_discounted_price_set", "discounted_price",
        "phone", "requested_fulfillment_service_id", "source",
    })


class Customer(_Model):
    id: StrictInt
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None

    known_extra = frozenset({
        "accepts_marketing", "addresses", "admin_graphql_api_id", "created_at", "currency",
        "default_address", "email_marketing_consent", "last_order_id", "last_order_name",
        "multipass_identifier", "note", "orders_count", "phone", "sms_marketing_consent",
        "state", "tags", "tax_exempt", "tax_exemptions", "total_spent", "updated_at",
        "verified_email",
    })


class RefundTransaction(_Model):
    id: StrictInt | None = None
    kind: str
    status: str | None = None
    amount: Money
    currency: str | None = None

    known_extra = frozenset({
        "admin_graphql_api_id", "authorization", "created_at", "device_id", "error_code",
        "gateway", "location_id", "message", "order_id", "parent_id", "payment_details",
        "payment_id", "processed_at", "receipt", "source_name", "test", "user_id",
    })


class RefundLineItem(_Model):
    """Goods taken back: `subtotal` (after the line's discounts) and `total_tax` are JSON
    numbers in stored refunds, unlike the strings of order money."""

    id: StrictInt | None = None
    line_item_id: StrictInt
    quantity: StrictInt
    subtotal: RefundMoney
    total_tax: RefundMoney
    subtotal_set: RefundMoneySet | None = None
    total_tax_set: RefundMoneySet | None = None

    known_extra = frozenset({
        "discounted_price", "discounted_total_price", "line_item", "location_id", "price",
        "restock_type", "total_cart_discount_amount",
    })


class OrderAdjustment(_Model):
    """A refund's adjustment: `shipping_refund` (negative; before API 2024-10 the only
    record of refunded shipping) or `refund_discrepancy` (money refunded differs from the
    goods' value: a payment matter, not a change of what was sold)."""

    id: StrictInt | None = None
    kind: str | None = None
    amount: RefundMoney
    tax_amount: RefundMoney = Decimal(0)
    amount_set: RefundMoneySet | None = None
    tax_amount_set: RefundMoneySet | None = None

    known_extra = frozenset({"order_id", "reason", "refund_id"})


class RefundShippingLine(_Model):
    """Shipping taken back (API 2024-10 and later)."""

    id: StrictInt | None = None
    shipping_line_id: StrictInt | None = None
    subtotal_amount_set: RefundMoneySet

    known_extra = frozenset({"shipping_line"})


class Refund(_Model):
    id: StrictInt
    created_at: datetime
    note: str | None = None
    transactions: list[RefundTransaction] = Field(default_factory=list)
    refund_line_items: list[RefundLineItem] = Field(default_factory=list)
    order_adjustments: list[OrderAdjustment] = Field(default_factory=list)
    refund_shipping_lines: list[RefundShippingLine] = Field(default_factory=list)

    known_extra = frozenset({
        "additional_fees", "admin_graphql_api_id", "duties", "order_id", "processed_at",
        "refund_duties", "restock", "return", "total_additional_fees_set", "total_duties_set",
        "user_id",
    })


class DiscountCode(_Model):
    code: str
    amount: Money
    type: str | None = None


class Order(_Model):
    """A Shopify order (REST Admin API), the fields the integrations rely on."""

    id: StrictInt
    name: str
    order_number: StrictInt
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
    taxes_included: bool = False
    test: bool = False
    # The order as it stands after refunds, returns and edits, as Shopify states it. Older
    # payloads may lack them; the mapping then relies on the original totals only when no
    # refund happened.
    current_total_price_set: MoneySet | None = None
    current_subtotal_price_set: MoneySet | None = None
    current_total_tax_set: MoneySet | None = None
    current_total_duties_set: MoneySet | None = None
    current_total_additional_fees_set: MoneySet | None = None
    original_total_additional_fees_set: MoneySet | None = None
    total_tip_received: Money | None = None

    known_extra = frozenset({
        "admin_graphql_api_id", "app_id", "billing_address", "browser_ip",
        "buyer_accepts_marketing", "cart_token", "checkout_id", "checkout_token",
        "client_details", "closed_at", "company", "confirmation_number", "confirmed",
        "contact_email", "current_subtotal_price", "current_total_discounts",
        "current_total_discounts_set", "current_total_price", "current_total_tax",
        "current_shipping_price_set", "customer_locale", "device_id", "discount_applications",
        "duties_included", "estimated_taxes", "fulfillment_status", "additional_fees",
        "total_additional_fees_set", "fulfillments", "gateway", "landing_site",
        "landing_site_ref", "location_id", "merchant_business_entity_id",
        "merchant_of_record_app_id", "note", "note_attributes", "number", "order_status_url",
        "original_total_duties_set",
        "payment_gateway_names", "payment_terms", "phone", "po_number", "processed_at",
        "reference", "referring_site", "shipping_address", "source_identifier", "source_name",
        "source_url", "tax_exempt", "tax_lines", "token",
        "total_cash_rounding_payment_adjustment_set",
        "total_cash_rounding_refund_adjustment_set", "total_line_items_price",
        "total_line_items_price_set", "total_outstanding", "total_shipping_price_set",
        "total_weight", "user_id",
    })


class OrderCount(_Model):
    """The answer of `orders/count.json`."""

    count: StrictInt
