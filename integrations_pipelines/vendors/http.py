"""The one resilient HTTP client every vendor call goes through.

It owns, for all vendors alike: connect/read timeouts; retries of transient failures (429,
5xx, timeouts, connection resets) with exponential backoff and full jitter within a bounded
total time; the vendor's `Retry-After` (seconds, `0`, or an HTTP date) honoured without a
tight loop; pacing from the vendor's own rate-limit headers so we slow down before the
vendor says no; one forced token refresh on a 401; and per-endpoint counts and latencies.
Permanent failures are raised at once as typed errors (see `errors.py`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, Protocol, TypedDict

import httpx
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from integrations_pipelines.vendors.errors import (
    AuthenticationError,
    PermanentVendorError,
    RateLimitedError,
    RetriesExhaustedError,
    TransientVendorError,
    VendorError,
)
from integrations_pipelines.vendors.metrics import HttpMetrics

__all__ = [
    "MIN_RETRY_WAIT_S",
    "TRANSIENT_STATUSES",
    "FailureRecord",
    "Pacer",
    "VendorHttpClient",
    "log",
    "parse_retry_after",
]

TRANSIENT_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MIN_RETRY_WAIT_S = 0.25
log = logging.getLogger(__name__)


class Pacer(Protocol):
    """Slows requests down from the vendor's own rate-limit signals."""

    def before_request(self) -> None: ...

    def observe(self, response: httpx.Response) -> None: ...


@dataclass(frozen=True)
class FailureRecord:
    """One failed attempt, as kept for diagnosis (no headers, no secrets)."""

    vendor: str
    endpoint: str
    status: int | None
    error: str
    retried: bool


class _ErrorContext(TypedDict):
    """The keyword arguments every `VendorError` raised for a response is built with."""

    vendor: str
    endpoint: str
    status: int | None
    body: str | None
    request_id: str | None


def _worth_retrying(exc: BaseException) -> bool:
    """Transient failures are retried, unless an inner client already spent its budget."""
    return isinstance(exc, TransientVendorError) and not isinstance(exc, RetriesExhaustedError)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: float seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class VendorHttpClient:
    """A vendor's base URL with our retry, pacing, auth-refresh and metrics policy.

    `auth_headers` returns the headers that authenticate a request (called per attempt so a
    refreshed token is used); `on_unauthorized` forces a refresh after a 401 and is tried
    once. `pacers` run in order before every attempt (the vendor's header signals, the
    account's shared budget) and see every answer. `idempotent=False` requests (POSTs
    without a vendor idempotency key) are never retried after the request may have reached
    the vendor. `request_id_header` names the header carrying the vendor's id of a request
    (QuickBooks `intuit_tid`); a failure keeps it and logs it.
    """

    def __init__(
        self,
        vendor: str,
        base_url: str,
        *,
        auth_headers: Callable[[], Mapping[str, str]] | None = None,
        on_unauthorized: Callable[[], None] | None = None,
        default_headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout | None = None,
        max_attempts: int = 8,
        max_elapsed_s: float = 300.0,
        backoff_max_s: float = 30.0,
        pacers: Sequence[Pacer] = (),
        metrics: HttpMetrics | None = None,
        failure_sink: Callable[[FailureRecord], None] | None = None,
        error_parser: Callable[[httpx.Response, dict[str, Any]], VendorError | None]
        | None = None,
        sleep: Callable[[float], None] = time.sleep,
        request_id_header: str | None = None,
        retry_hint_header: str | None = None,
    ) -> None:
        self.vendor = vendor
        self._request_id_header = request_id_header
        # A vendor's own "should this be retried" answer header ("true"/"false"), e.g. the
        # one Stripe sends; None for vendors that send none.
        self._retry_hint_header = retry_hint_header
        self.metrics = metrics or HttpMetrics()
        self._auth_headers = auth_headers
        self._on_unauthorized = on_unauthorized
        self._pacers = tuple(pacers)
        self._failure_sink = failure_sink
        self._error_parser = error_parser
        self._max_attempts = max_attempts
        self._max_elapsed_s = max_elapsed_s
        self._backoff_max_s = backoff_max_s
        self._sleep = sleep
        self._client = httpx.Client(
            base_url=base_url,
            timeout=timeout or httpx.Timeout(30.0, connect=5.0),
            headers=dict(default_headers or {}),
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> VendorHttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        endpoint: str,
        idempotent: bool = True,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: str | None = None,
        headers: Mapping[str, str] | None = None,
        authenticate: bool = True,
        basic_auth: tuple[str, str] | None = None,
    ) -> httpx.Response:
        """Send one logical request, retrying transient failures; return a 2xx response."""
        retrying = Retrying(
            stop=stop_after_attempt(self._max_attempts) | stop_after_delay(self._max_elapsed_s),
            wait=self._wait,
            retry=retry_if_exception(_worth_retrying),
            sleep=self._sleep,
            reraise=True,
        )
        refreshed = False
        send = partial(self._attempt, method, url, endpoint=endpoint, idempotent=idempotent,
                       params=params, json=json, data=data, content=content, headers=headers,
                       authenticate=authenticate, basic_auth=basic_auth)
        try:
            for attempt in retrying:
                with attempt:
                    try:
                        return send()
                    except AuthenticationError:
                        if refreshed or self._on_unauthorized is None:
                            raise
                        refreshed = True
                        self._on_unauthorized()
                        # One more attempt with the new token, outside the backoff budget.
                        return send()
        except RetriesExhaustedError:
            raise
        except TransientVendorError as exc:
            attempts = retrying.statistics.get("attempt_number", 1)
            raise RetriesExhaustedError(
                f"{exc.args[0]} (gave up after {attempts} attempts)", vendor=exc.vendor,
                endpoint=exc.endpoint, status=exc.status, body=exc.body,
                request_id=exc.request_id) from exc
        raise AssertionError("unreachable: tenacity re-raises the last error")

    def _wait(self, state: RetryCallState) -> float:
        """Full-jitter exponential backoff, or the vendor's Retry-After when it gave one."""
        backoff = wait_random_exponential(multiplier=0.5, max=self._backoff_max_s)(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            # Retry-After: 0 must not become a tight loop; add a little jitter on top.
            return max(exc.retry_after, MIN_RETRY_WAIT_S) + min(backoff, 1.0) * 0.1
        return max(backoff, MIN_RETRY_WAIT_S)

    def _attempt(self, method: str, url: str, *, endpoint: str, idempotent: bool,
                 authenticate: bool, headers: Mapping[str, str] | None,
                 basic_auth: tuple[str, str] | None, **kw: Any) -> httpx.Response:
        for pacer in self._pacers:
            pacer.before_request()
        all_headers = dict(headers or {})
        if authenticate and self._auth_headers is not None:
            all_headers.update(self._auth_headers())
        started = time.perf_counter()
        try:
            response = self._client.request(
                method, url, headers=all_headers,
                auth=httpx.BasicAuth(*basic_auth) if basic_auth else httpx.USE_CLIENT_DEFAULT,
                **kw,
            )
        except httpx.TransportError as exc:
            latency = (time.perf_counter() - started) * 1000
            reached = not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
            error_cls = (
                TransientVendorError if idempotent or not reached else PermanentVendorError
            )
            err: VendorError = error_cls(
                f"{type(exc).__name__}: {exc}" + ("" if error_cls is TransientVendorError
                                                  else " (not retried: the write may have "
                                                  "reached the vendor and has no idempotency "
                                                  "key)"),
                vendor=self.vendor, endpoint=endpoint,
            )
            self._record_failure(endpoint, None, err, latency)
            raise err from exc
        latency = (time.perf_counter() - started) * 1000
        for pacer in self._pacers:
            pacer.observe(response)
        if response.is_success:
            self.metrics.record(endpoint, response.status_code, latency, outcome="success")
            return response
        err = self._classify(response, endpoint)
        self._record_failure(endpoint, response.status_code, err, latency)
        raise err

    def _classify(self, response: httpx.Response, endpoint: str) -> VendorError:
        status = response.status_code
        body = response.text
        kw: _ErrorContext = {
            "vendor": self.vendor, "endpoint": endpoint, "status": status, "body": body,
            "request_id": (response.headers.get(self._request_id_header)
                           if self._request_id_header else None)}
        if status == 429:
            return RateLimitedError(
                "rate limited", retry_after=parse_retry_after(response.headers.get("Retry-After")),
                **kw,
            )
        should_retry = (response.headers.get(self._retry_hint_header)
                        if self._retry_hint_header else None)
        if should_retry == "true":
            return TransientVendorError("vendor asks for a retry", **kw)
        if status in TRANSIENT_STATUSES and should_retry != "false":
            return TransientVendorError("server error or timeout", **kw)
        if status == 401:
            return AuthenticationError("credentials rejected", **kw)
        # A copy: the parser's API takes a plain dict (TypedDicts are not dict[str, Any]).
        parsed = self._error_parser(response, dict(kw)) if self._error_parser else None
        return parsed or PermanentVendorError(f"request rejected: {body[:300]}", **kw)

    def _record_failure(self, endpoint: str, status: int | None, err: VendorError,
                        latency_ms: float) -> None:
        retried = isinstance(err, TransientVendorError)
        log.log(logging.INFO if retried else logging.WARNING, "%s (%s)", err,
                "will retry" if retried else "not retried")
        self.metrics.record(
            endpoint, status, latency_ms,
            outcome="rate_limited" if status == 429 else ("retried" if retried else "failed"),
        )
        if self._failure_sink is not None:
            self._failure_sink(FailureRecord(self.vendor, endpoint, status, str(err), retried))
