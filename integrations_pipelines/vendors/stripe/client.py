"""Stripe API v1 client: objects of a day window, a payout's transactions, events since a
cursor. Every call goes through the project's one HTTP client (`vendors/http.py`).

- Lists: `{"object": "list", "data", "has_more", "url"}`, newest first, `limit` 1-100,
  the next page asked with `starting_after=<last id>` while `has_more`. A day window is
  `created[gte]` / `created[lt]` (Unix seconds). Each page is requested only when the
  caller takes it, and each object is validated on its own (`Screened`): one bad object
  never blocks the page.
- Auth: `Authorization: Bearer <secret or restricted key>`; `Stripe-Version` pins the API
  version on every request, and the version Stripe reports back (`Stripe-Version` response
  header) is counted in `served_versions` so a check can see a mismatch.
- Failures: the error envelope `{"error": {"type", "code", "message", "param"}}` becomes
  the error's message, `Request-Id` is kept on every failure, `Stripe-Should-Retry` decides
  retries where Stripe gives it, 429 and 5xx are retried with backoff.
- Pacing: the account's read limit (live 100/s, test 25/s) and Stripe's default per-endpoint
  limit (25/s) are token buckets in PostgreSQL shared by every process (`budget.py`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import pydantic
import sqlalchemy as sa

from integrations_pipelines.vendors.budget import RateLimit, SharedRequestBudget
from integrations_pipelines.vendors.contracts import ContractGuard, Screened
from integrations_pipelines.vendors.errors import PermanentVendorError, VendorError
from integrations_pipelines.vendors.http import FailureRecord, VendorHttpClient
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.stripe.models import (
    OBJECT_MODELS,
    BalanceTransaction,
    ErrorBody,
    Event,
    ListEnvelope,
    StripeObject,
)
from integrations_pipelines.vendors.stripe.settings import StripeSettings

__all__ = ["DEFAULT_API_VERSION", "ENDPOINT_LIMIT", "MAX_LIMIT", "READ_LIMITS", "StripeClient",
           "WaitClock", "connect", "parse_error"]

MAX_LIMIT = 100
DEFAULT_API_VERSION = "2026-10-28"
READ_LIMITS = {"live": 100, "test": 25}  # read requests per second per account
ENDPOINT_LIMIT = 25  # Stripe's default per-endpoint limit, in either mode


@dataclass
class WaitClock:
    """The HTTP client's sleep, counted: how long retries and pacing waited (metadata)."""

    waited_s: float = 0.0
    sleep: Callable[[float], None] = time.sleep

    def __call__(self, seconds: float) -> None:
        self.waited_s += seconds
        self.sleep(seconds)


def parse_error(response: httpx.Response, context: dict[str, Any]) -> VendorError | None:
    """Stripe's error object as the failure's message (`type/code: message (param)`)."""
    try:
        error = ErrorBody.model_validate(response.json()).error
    except (ValueError, pydantic.ValidationError):
        return None
    detail = f"{error.type}{'/' + error.code if error.code else ''}: {error.message or ''}"
    if error.param:
        detail += f" (param {error.param})"
    return PermanentVendorError(detail, **context)


def _unix(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("Stripe windows need aware datetimes")
    return int(moment.timestamp())


class StripeClient:
    """Reads one Stripe account. Objects come back with the dict Stripe sent (what the raw
    store keeps) and their validation result."""

    def __init__(self, http: VendorHttpClient, api_version: str = DEFAULT_API_VERSION,
                 contracts: ContractGuard | None = None,
                 endpoint_budget: Callable[[str], SharedRequestBudget] | None = None) -> None:
        self.http = http
        self.api_version = api_version
        self.contracts = contracts or ContractGuard()
        self.served_versions: Counter[str] = Counter()
        self._endpoint_budget = endpoint_budget
        self._budgets: dict[str, SharedRequestBudget] = {}

    def _get(self, path: str, endpoint: str, params: Mapping[str, Any]) -> dict[str, Any]:
        if self._endpoint_budget is not None:
            budget = self._budgets.setdefault(endpoint, self._endpoint_budget(endpoint))
            budget.before_request()
        response = self.http.request("GET", path, endpoint=endpoint, params=params)
        served = response.headers.get("Stripe-Version")
        if served:
            self.served_versions[served] += 1
        body = response.json()
        if not isinstance(body, dict):
            raise self.contracts.violation("List", "(root)", "not a JSON object", body,
                                           vendor="stripe", endpoint=endpoint)
        return body

    @property
    def paced_s(self) -> float:
        """Seconds the per-endpoint budgets made this client wait."""
        return sum(b.waited_s for b in self._budgets.values())

    def _pages(self, resource: str, params: dict[str, Any]) -> Iterator[list[dict[str, Any]]]:
        """The raw pages of one list, newest first, `starting_after` the last id of each."""
        endpoint = f"{resource}.list"
        query = {**params, "limit": min(int(params.get("limit", MAX_LIMIT)), MAX_LIMIT)}
        while True:
            body = self._get(f"/v1/{resource}", endpoint, query)
            try:
                page = ListEnvelope.model_validate(body)
            except pydantic.ValidationError as exc:
                raise self.contracts.violation(
                    "List", "data", f"not a Stripe list envelope: {exc.errors()[0]['msg']}",
                    body, vendor="stripe", endpoint=endpoint) from exc
            yield page.data
            if not page.has_more or not page.data:
                return
            last = page.data[-1]
            query = {**query, "starting_after": last["id"] if isinstance(last, dict) else last}

    def window_pages(self, resource: str, start: datetime, end: datetime,
                     ) -> Iterator[list[Screened[StripeObject]]]:
        """The `resource` objects created in [start, end), a validated page at a time."""
        model = OBJECT_MODELS[resource]
        params = {"created[gte]": _unix(start), "created[lt]": _unix(end)}
        for data in self._pages(resource, params):
            yield self.contracts.screen_many(model, data, vendor="stripe",
                                             endpoint=f"{resource}.list")

    def payout_transactions(self, payout_id: str) -> Iterator[Screened[BalanceTransaction]]:
        """The balance transactions an automatic payout paid out (`?payout=po_...`), the
        payout's own withdrawal (type `payout`) among them."""
        for data in self._pages("balance_transactions", {"payout": payout_id}):
            yield from self.contracts.screen_many(BalanceTransaction, data, vendor="stripe",
                                                  endpoint="balance_transactions.list")

    def any_event_since(self, since: datetime) -> bool:
        """Whether Stripe has any event created at or after `since`: one list call with
        `limit=1` (what the change sensor asks before it launches a run)."""
        body = self._get("/v1/events", "events.list",
                         {"created[gte]": _unix(since), "limit": 1})
        data = body.get("data")
        if not isinstance(data, list):
            raise self.contracts.violation("List", "data", "not a Stripe list envelope", body,
                                           vendor="stripe", endpoint="events.list")
        return bool(data)

    def event_pages(self, since: datetime, until: datetime,
                    ) -> Iterator[list[Screened[Event]]]:
        """Events created in [since, until), a page at a time, oldest page first and each
        page oldest first, so a caller can apply a page and move its cursor past it before
        asking for the next (memory: one page). Stripe lists newest first: the walk goes to
        the oldest page with `starting_after` (holding only the page in hand), then forward
        with `ending_before=<newest id applied>`, the adjacent newer page each time."""
        params: dict[str, Any] = {"created[gte]": _unix(since), "created[lt]": _unix(until)}
        page: list[Any] = []
        walked = 0
        for data in self._pages("events", params):
            page, walked = data, walked + 1  # only the page in hand is kept: the oldest last
        newer = walked > 1  # the window had more than the oldest page
        while page:
            screened = self.contracts.screen_many(Event, page, vendor="stripe",
                                                  endpoint="events.list")
            screened.reverse()  # oldest first; the stable sort keeps that within one second
            yield sorted(screened, key=lambda s: s.instance.created if s.instance else 0)
            if not newer:
                return
            newest = page[0]["id"] if isinstance(page[0], dict) else page[0]
            body = self._get("/v1/events", "events.list",
                             {**params, "limit": MAX_LIMIT, "ending_before": newest})
            try:
                envelope = ListEnvelope.model_validate(body)
            except pydantic.ValidationError as exc:
                raise self.contracts.violation(
                    "List", "data", f"not a Stripe list envelope: {exc.errors()[0]['msg']}",
                    body, vendor="stripe", endpoint="events.list") from exc
            page, newer = envelope.data, envelope.has_more


@dataclass
class Connection:
    """What `connect` builds: the client and the clocks its metadata reads."""

    client: StripeClient
    clock: WaitClock
    budgets: list[SharedRequestBudget] = field(default_factory=list)

    @property
    def waited_s(self) -> float:
        """Seconds spent waiting: retry backoff plus every budget's pacing."""
        return self.clock.waited_s + sum(b.waited_s for b in self.budgets) + \
            self.client.paced_s


def connect(conf: StripeSettings, engine: sa.Engine | None, *, account: str = "default",
            metrics: HttpMetrics | None = None, contracts: ContractGuard | None = None,
            failure_sink: Callable[[FailureRecord], None] | None = None,
            sleep: Callable[[float], None] = time.sleep, **kw: Any) -> Connection:
    """A client for one account: key auth, pinned version, Stripe's error and retry headers,
    and (with an engine) the account's shared read budget and per-endpoint budgets."""
    clock = WaitClock(sleep=sleep)
    budgets: list[SharedRequestBudget] = []
    endpoint_budget = None
    if engine is not None:
        budgets.append(SharedRequestBudget(
            engine, f"stripe:{account}", [RateLimit.window("read", READ_LIMITS[conf.mode], 1.0)],
            sleep=sleep))

        def endpoint_budget(endpoint: str) -> SharedRequestBudget:
            return SharedRequestBudget(engine, f"stripe:{account}:{endpoint}",
                                       [RateLimit.window("endpoint", ENDPOINT_LIMIT, 1.0)],
                                       sleep=sleep)
    version = conf.api_version or DEFAULT_API_VERSION
    http = VendorHttpClient(
        "stripe", conf.base_url,
        auth_headers=lambda: {"Authorization": f"Bearer {conf.api_key}"},
        default_headers={"Stripe-Version": version, "Accept": "application/json"},
        pacers=budgets, metrics=metrics, failure_sink=failure_sink, error_parser=parse_error,
        sleep=clock, request_id_header="Request-Id", retry_hint_header="Stripe-Should-Retry",
        **kw)
    client = StripeClient(http, version, contracts, endpoint_budget)
    return Connection(client, clock, budgets)
