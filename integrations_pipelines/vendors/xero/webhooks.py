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
from collections.abc import Iterable

__all__ = ["SIGNATURE_HEADER", "sign", "verify"]

SIGNATURE_HEADER = "x-xero-signature"


def sign(body: bytes, key: str) -> str:
    """The signature Xero sends with `body`."""
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def verify(body: bytes, signature: str | None, keys: Iterable[str]) -> bool:
    """Is `signature` Xero's for `body` under one of the currently valid webhook keys (two
    during a key rotation)? Compared in constant time."""
    if not signature:
        return False
    return any(hmac.compare_digest(sign(body, key), signature.strip()) for key in keys if key)
