"""Xero's webhooks: `x-xero-signature` is the base64 HMAC-SHA256 of the raw body keyed with
the app's webhook key. Before Xero sends events to an endpoint it checks the endpoint's
"intent to receive": a delivery signed correctly must get 200, one signed wrongly 401, every
time; an endpoint that answers both alike is not enabled. Events name the resource that
changed (`resourceId`, `eventCategory` INVOICE or CONTACT, `eventType` CREATE or UPDATE,
`tenantId`), never its content: the receiver re-reads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable
from typing import Any

__all__ = ["SIGNATURE_HEADER", "TOPIC", "delivery_id", "sign", "verify", "webhook_keys"]

SIGNATURE_HEADER = "x-xero-signature"
TOPIC = "xero/events"


def webhook_keys() -> tuple[str, ...]:
    """XERO_WEBHOOK_KEYS: the app's webhook keys, comma-separated, newest first (two while
    the key is rotated); read per delivery."""
    return tuple(k.strip() for k in os.environ.get("XERO_WEBHOOK_KEYS", "").split(",")
                 if k.strip())


def delivery_id(document: dict[str, Any], body: bytes) -> str:
    """The dedupe key of a delivery: its event sequence, else the digest of its body (an
    "intent to receive" delivery carries no events and a random entropy)."""
    first, last = document.get("firstEventSequence"), document.get("lastEventSequence")
    if first and last:
        return f"xero:{first}-{last}"
    return "xero:" + hashlib.sha256(body).hexdigest()[:32]


def sign(body: bytes, key: str) -> str:
    """The signature Xero sends with `body`."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, signature: str | None, keys: Iterable[str]) -> bool:
    """Is `signature` Xero's for `body` under one of the currently valid webhook keys (two
    during a key rotation)? Compared in constant time."""
    if not signature:
        return False
    return any(hmac.compare_digest(sign(body, key), signature.strip()) for key in keys if key)
