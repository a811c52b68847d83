"""Stripe's webhook signature: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`.

`v1` is the hex HMAC-SHA256, keyed with the endpoint's whole signing secret (`whsec_...`,
used as text, not decoded), of `"{t}.{raw body}"`. Any `v1` matching any secret currently
valid passes (several during a secret roll); other schemes (`v0`) are ignored; a timestamp
more than `tolerance` seconds from now is refused (a replayed delivery). The event's `id`
is the delivery's dedupe key: Stripe redelivers the same event for up to three days.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Sequence

__all__ = ["DEFAULT_TOLERANCE_S", "SignatureError", "sign", "signature_header", "verify"]

DEFAULT_TOLERANCE_S = 300


class SignatureError(ValueError):
    """The delivery is not signed by Stripe with a secret we hold (or is too old)."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The `v1` signature of `body` at `timestamp` (the sandbox signs with it too)."""
    signed = f"{timestamp}.".encode() + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def signature_header(body: bytes, secrets: Sequence[str], timestamp: int) -> str:
    """A `Stripe-Signature` header, one `v1` per secret."""
    return ",".join([f"t={timestamp}", *(f"v1={sign(body, s, timestamp)}" for s in secrets)])


def verify(body: bytes, header: str | None, secrets: Sequence[str], *,
           tolerance_s: int = DEFAULT_TOLERANCE_S, now: float | None = None) -> int:
    """The signed timestamp, if one `v1` of the header matches one of `secrets` over the raw
    body and the timestamp is within `tolerance_s`; raises `SignatureError` otherwise.
    Every pair is compared in constant time."""
    if not header:
        raise SignatureError("no Stripe-Signature header")
    timestamp: int | None = None
    given: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            given.append(value)
    if timestamp is None or not given:
        raise SignatureError("Stripe-Signature has no timestamp or no v1 signature")
    if not secrets:
        raise SignatureError("no signing secret configured")
    matched = False
    for secret in secrets:
        expected = sign(body, secret, timestamp).encode()
        for value in given:
            matched |= hmac.compare_digest(expected, value.encode())
    if not matched:
        raise SignatureError("no v1 signature matches the body with a configured secret")
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        raise SignatureError(f"signature timestamp {timestamp} is outside the "
                             f"{tolerance_s} s tolerance")
    return timestamp
