"""The Stripe objects as this project understands them (API v1).

Amounts are strict JSON integers in the currency's minor unit (a string or a float where an
integer was is contract drift and fails validation, never coerced); `currency` is lowercase
ISO 4217; `created` and `available_on` are Unix seconds. Ids are strings with Stripe's
prefixes (`ch_`, `re_`, `dp_`, `po_`, `txn_`, `evt_`). Unknown fields are kept
(`extra="allow"`) so drift is recorded: `known_extra` names fields Stripe documents that we
do not model. Expandable references (`balance_transaction`, `charge`, `source`) arrive as an
id unless expanded; the list calls here never expand, so an object where an id was is drift.

Stripe objects carry no `updated` timestamp: what changed after creation (a refund moves a
charge's `amount_refunded`, a dispute closes) is told by the Events API, whose event
`created` is the version of the object it carries (`records.py`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, field_validator

__all__ = ["OBJECT_MODELS", "BalanceTransaction", "Charge", "Dispute", "ErrorBody", "Event",
           "EventData", "ListEnvelope", "Payout", "Refund", "StripeError", "StripeObject"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)
    known_extra: ClassVar[frozenset[str]] = frozenset()


class StripeObject(_Model):
    """What every listed Stripe object has."""

    id: str
    object: str
    created: StrictInt
    livemode: StrictBool = False

    known_extra: ClassVar[frozenset[str]] = frozenset({"metadata", "description"})


class _Money(StripeObject):
    amount: StrictInt
    currency: str

    @field_validator("currency")
    @classmethod
    def _lowercase(cls, value: str) -> str:
        if len(value) != 3 or value != value.lower():
            raise ValueError("currency must be a lowercase ISO 4217 code")
        return value


class Charge(_Money):
    """A payment: `amount` in the presentment currency, captured or not, refunded in part."""

    object: Literal["charge"]
    amount_captured: StrictInt
    amount_refunded: StrictInt
    captured: StrictBool
    paid: StrictBool
    refunded: StrictBool
    disputed: StrictBool
    status: Literal["succeeded", "pending", "failed"]
    balance_transaction: str | None = None
    payment_method_details: dict[str, Any] | None = None

    known_extra = StripeObject.known_extra | frozenset({
        "customer", "payment_intent", "receipt_email", "statement_descriptor", "outcome",
        "billing_details", "failure_code", "failure_message", "refunds"})


class Refund(_Money):
    """Money sent back on a charge (a partial refund is one of several)."""

    object: Literal["refund"]
    charge: str
    status: Literal["pending", "requires_action", "succeeded", "failed", "canceled"]
    balance_transaction: str | None = None
    reason: str | None = None

    known_extra = StripeObject.known_extra | frozenset({"payment_intent", "receipt_number"})


class Dispute(_Money):
    """A chargeback: funds withdrawn when opened, reinstated if won."""

    object: Literal["dispute"]
    charge: str
    status: Literal["warning_needs_response", "warning_under_review", "warning_closed",
                    "needs_response", "under_review", "won", "lost"]
    reason: str
    balance_transactions: list[dict[str, Any]] = []

    known_extra = StripeObject.known_extra | frozenset({"evidence", "evidence_details",
                                                        "is_charge_refundable",
                                                        "payment_intent"})


class Payout(_Money):
    """Funds sent to the bank; an automatic payout groups the balance transactions it paid."""

    object: Literal["payout"]
    arrival_date: StrictInt
    automatic: StrictBool
    status: Literal["paid", "pending", "in_transit", "canceled", "failed"]
    balance_transaction: str | None = None
    method: str = "standard"

    known_extra = StripeObject.known_extra | frozenset({"destination", "statement_descriptor",
                                                        "type", "failure_code",
                                                        "reconciliation_status"})


class BalanceTransaction(_Money):
    """One movement of the account's balance: the money ledger. `net` = `amount` - `fee`,
    in the balance's (settlement) currency; `source` names the charge, refund, dispute or
    payout behind it."""

    object: Literal["balance_transaction"]
    fee: StrictInt
    net: StrictInt
    type: str
    reporting_category: str
    available_on: StrictInt
    status: Literal["available", "pending"]
    source: str | None = None
    exchange_rate: float | None = None
    fee_details: list[dict[str, Any]] = []

    known_extra = StripeObject.known_extra | frozenset({"balance_type"})


OBJECT_MODELS: dict[str, type[StripeObject]] = {
    "charges": Charge, "refunds": Refund, "disputes": Dispute, "payouts": Payout,
    "balance_transactions": BalanceTransaction,
}


class EventData(_Model):
    object: dict[str, Any]
    previous_attributes: dict[str, Any] | None = None


class Event(_Model):
    """A change Stripe recorded: `data.object` is the object as it was at `created`, rendered
    in the event's own `api_version` (not the request's `Stripe-Version`)."""

    id: str
    object: Literal["event"]
    type: str
    created: StrictInt
    data: EventData
    api_version: str | None = None
    livemode: StrictBool = False

    known_extra: ClassVar[frozenset[str]] = frozenset({"pending_webhooks", "request",
                                                        "account", "context"})


class ListEnvelope(_Model):
    """`{"object": "list", "data": [...], "has_more": bool, "url": "/v1/..."}`."""

    object: Literal["list"]
    data: list[Any]
    has_more: StrictBool
    url: str


class StripeError(_Model):
    type: str
    message: str | None = None
    code: str | None = None
    param: str | None = None
    decline_code: str | None = None
    doc_url: str | None = None


class ErrorBody(_Model):
    """`{"error": {"type", "code", "message", "param"}}`."""

    error: StripeError
