"""Shopify's webhook signing scheme and delivery headers.

Shopify signs each delivery with the app's client secret: `X-Shopify-Hmac-Sha256` is the
base64 HMAC-SHA256 of the raw request body. Newer deliveries may spell every header in
lowercase with a `shopify-` prefix (`shopify-hmac-sha256`, `shopify-webhook-id`, ...); both
spellings are read. `X-Shopify-Webhook-Id` is the same on every redelivery of one event: the
inbox's dedupe key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

__all__ = ["ORDER_TOPICS", "TOPICS", "DeliveryHeaders", "delivery_headers", "record_of", "sign",
           "verify"]

# Topics this project processes: their body is the order (or, for refunds/create, a refund
# naming its order_id).
ORDER_TOPICS = frozenset({"orders/create", "orders/updated", "orders/cancelled",
                          "orders/edited", "orders/paid", "orders/fulfilled"})
TOPICS = ORDER_TOPICS | {"refunds/create"}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """`X-Shopify-<Name>` or its newer lowercase spelling `shopify-<name>`."""
    return headers.get(f"x-shopify-{name}") or headers.get(f"shopify-{name}")


def sign(body: bytes, secret: str) -> str:
    """The signature Shopify sends for `body` (the sandbox signs with it too)."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(body: bytes, headers: Mapping[str, str], secrets: Sequence[str]) -> bool:
    """True if the delivery is signed with one of `secrets` (two during a rotation).
    Constant-time comparison; every secret is tried, so timing tells nothing."""
    given = _header(headers, "hmac-sha256")
    if not given or not secrets:
        return False
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(sign(body, secret).encode(), given.strip().encode())
    return matched


@dataclass(frozen=True)
class DeliveryHeaders:
    """What the delivery's headers say about it."""

    topic: str | None
    delivery_id: str | None
    event_id: str | None
    shop: str | None
    api_version: str | None
    triggered_at: datetime | None


def _time(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")) \
            if isinstance(value, str) else None
    except ValueError:
        return None


def record_of(topic: str | None, body: object) -> tuple[str | None, datetime | None]:
    """The order a delivery is about and the version it carries: an order topic's body is
    the order (`id`, `updated_at`), a refund's names its `order_id` (`created_at`)."""
    if not isinstance(body, dict):
        return None, None
    if topic in ORDER_TOPICS:
        ident, version = body.get("id"), body.get("updated_at")
    elif topic == "refunds/create":
        ident, version = body.get("order_id"), body.get("created_at")
    else:
        return None, None
    if isinstance(ident, bool) or not isinstance(ident, int | str):
        return None, None
    return str(ident), _time(version)


def delivery_headers(headers: Mapping[str, str]) -> DeliveryHeaders:
    when = _time(_header(headers, "triggered-at"))
    return DeliveryHeaders(
        topic=_header(headers, "topic"), delivery_id=_header(headers, "webhook-id"),
        event_id=_header(headers, "event-id"), shop=_header(headers, "shop-domain"),
        api_version=_header(headers, "api-version"), triggered_at=when)
