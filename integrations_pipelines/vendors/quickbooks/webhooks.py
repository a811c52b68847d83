"""QuickBooks Online's webhook signing scheme and its two notification formats.

The legacy body is `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities":
[{"name", "id", "operation", "lastUpdated"}]}}]}`; Intuit is moving every app to CloudEvents
(a JSON list of `{"specversion": "1.0", "id", "type": "qbo.invoice.updated.v1", "time",
"intuitentityid", "intuitaccountid", "data"}`). Both are accepted; both are signed the same way.


Intuit signs each notification with the app's verifier token: the `intuit-signature` header
is the base64 HMAC-SHA256 of the raw body. A notification carries no delivery id, so the
body's SHA-256 is the dedupe key (a redelivery repeats the same body).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence

__all__ = ["TOPIC", "delivery_id", "is_notification", "sign", "verify"]

TOPIC = "dataChangeEvent"


def sign(body: bytes, verifier_token: str) -> str:
    digest = hmac.new(verifier_token.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify(body: bytes, headers: Mapping[str, str], tokens: Sequence[str]) -> bool:
    """True if signed with one of the verifier tokens (two during a rotation)."""
    given = headers.get("intuit-signature")
    if not given or not tokens:
        return False
    matched = False
    for token in tokens:
        matched |= hmac.compare_digest(sign(body, token).encode(), given.strip().encode())
    return matched


def is_notification(document: object) -> bool:
    """A body in one of the two formats QuickBooks notifies in."""
    if isinstance(document, dict):
        return "eventNotifications" in document
    return isinstance(document, list) and bool(document) and all(
        isinstance(e, dict) and "specversion" in e for e in document)


def delivery_id(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()
