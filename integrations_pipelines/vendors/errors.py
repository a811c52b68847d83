"""The one documented tree of vendor errors.

Retries have one owner per layer. `TransientVendorError` is retried by the HTTP client
(429, 5xx, timeouts, connection resets) until its budget is spent; every
`PermanentVendorError` (400, 401 after a failed refresh, 403, 404, 422, a response that
breaks our model) is never retried by anyone: the Dagster layer turns it into
`Failure(allow_retries=False)` or a dead letter.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_BODY_CHARS",
    "AuthenticationError",
    "ContractViolation",
    "CredentialsRevokedError",
    "PermanentVendorError",
    "RateLimitedError",
    "RetriesExhaustedError",
    "TransientVendorError",
    "VendorError",
]

MAX_BODY_CHARS = 2000


class VendorError(Exception):
    """A vendor call that did not succeed; carries where, what status and a body excerpt."""

    def __init__(
        self,
        message: str,
        *,
        vendor: str,
        endpoint: str,
        status: int | None = None,
        body: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.vendor = vendor
        self.endpoint = endpoint
        self.status = status
        self.body = (body or "")[:MAX_BODY_CHARS]
        # The vendor's id of the failed request (QuickBooks `intuit_tid`, Stripe
        # `Request-Id`): what the vendor's support asks for first.
        self.request_id = request_id

    def __str__(self) -> str:
        where = f"{self.vendor} {self.endpoint}"
        status = f" HTTP {self.status}" if self.status is not None else ""
        ident = f" [request id {self.request_id}]" if self.request_id else ""
        return f"{where}{status}: {self.args[0]}{ident}"


class TransientVendorError(VendorError):
    """Worth retrying later: rate limited, server error, timeout, connection reset."""


class RateLimitedError(TransientVendorError):
    """HTTP 429; `retry_after` is the vendor's own wait in seconds, when it said one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class RetriesExhaustedError(TransientVendorError):
    """A transient failure that outlasted the HTTP client's retry budget. Still transient
    (a later run may succeed), but no outer loop retries it again: a token refresh that
    gave up inside an API call's attempt must not be retried once per outer attempt."""


class PermanentVendorError(VendorError):
    """Retrying cannot help: the request, the credentials or the contract must change."""


class AuthenticationError(PermanentVendorError):
    """Credentials rejected even after a token refresh; a person must re-authorize."""


class CredentialsRevokedError(AuthenticationError):
    """The refresh token is revoked, expired or already used: re-connect the app."""


class ContractViolation(PermanentVendorError):
    """A vendor response no longer matches the model we own (type or requiredness drift)."""

    def __init__(self, message: str, *, payload: Any = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.payload = payload
