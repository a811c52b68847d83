"""Stripe API v1 sandbox: the list and retrieve endpoints of the money ledger, as Stripe
serves them.

Reproduces what breaks real clients: the list envelope (`object`, `data`, `has_more`,
`url`), newest-first order, `limit` 1-100 (default 10), `starting_after` / `ending_before`
cursors by object id, `created[gte|gt|lte|lt]` in Unix seconds, unknown parameters refused
(`Received unknown parameter`), the error object `{"error": {"type", "code", "message",
"param"}}` with the right statuses (401 bad key, 400 bad request, 404 no such object, 429
rate limited), `Request-Id` on every answer, `Stripe-Version` checked against the versions
Stripe knows and echoed back, the account's read limit per second by key mode (live 100,
test 25) and the per-endpoint limit (25/s), Stripe's `Stripe-Should-Retry` on 5xx, and the
fault knobs of `faults.py` plus a time-compressed outage (`stripe_outage.py`). The balance
transactions of a payout come back with `?payout=po_...` (automatic payouts). Events are
kept 30 days. `/_sandbox/...` is the test's back office (refunds, disputes, faults).
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations_pipelines.sandbox.faults import FaultMiddleware, Faults, FaultSettings
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.stripe_ledger import StripeLedger
from integrations_pipelines.sandbox.stripe_outage import Outage, OutageMiddleware

__all__ = ["KNOWN_VERSIONS", "StripeStore", "build_stripe_app", "start_stripe"]

KNOWN_VERSIONS = ("2024-06-20", "2025-03-31.basil", "2026-10-28")
DEFAULT_VERSION = "2026-10-28"
RESOURCES = ("charges", "refunds", "disputes", "payouts", "balance_transactions", "events")
ALWAYS = {"limit", "starting_after", "ending_before", "expand[]"}
FILTERS = {"created[gte]", "created[gt]", "created[lte]", "created[lt]", "created"}
EXTRA = {"balance_transactions": {"payout", "type", "currency", "source"},
         "events": {"type", "types[]", *(f"types[{n}]" for n in range(20))},
         "charges": {"customer", "payment_intent"}, "refunds": {"charge"},
         "disputes": {"charge"}, "payouts": {"status", "arrival_date"}}
EVENT_RETENTION_S = 30 * 86400


class StripeError(Exception):
    def __init__(self, status: int, kind: str, message: str, code: str | None = None,
                 param: str | None = None) -> None:
        super().__init__(message)
        self.status, self.body = status, {"error": {
            k: v for k, v in {"type": kind, "code": code, "message": message,
                              "param": param}.items() if v is not None}}


class _PerSecond:
    """A one-second window counter per key (the sandbox's rate limiter)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, int], int] = defaultdict(int)

    def take(self, key: str, limit: int) -> bool:
        second = int(time.monotonic())
        with self._lock:
            self._counts[(key, second)] += 1
            if len(self._counts) > 10_000:
                self._counts = defaultdict(int, {k: v for k, v in self._counts.items()
                                                 if k[1] >= second - 1})
            return self._counts[(key, second)] <= limit


class StripeStore:
    """The sandbox's account, key, faults, outage and request counts."""

    def __init__(self, ledger: StripeLedger | None = None, api_key: str = "sk_test_sandbox",
                 faults: Faults | FaultSettings | dict[str, Any] | None = None,
                 now: float | None = None) -> None:
        self.ledger = ledger or StripeLedger()
        self.api_key = api_key
        self.faults = faults if isinstance(faults, Faults) else Faults(faults)
        self.outage = Outage()
        self.limiter = _PerSecond()
        self.stats: dict[str, int] = defaultdict(int)
        self._now = now
        # A key revoked mid-run: per endpoint (`events.list`), the requests answered before
        # every later one is refused with 401 (a crash between two pages, staged exactly).
        self.revoke_after: dict[str, int] = {}

    def now(self) -> float:
        """The account's clock (fixed in tests that replay a past day)."""
        return self._now if self._now is not None else time.time()

    @property
    def read_limit(self) -> int:
        return 100 if self.api_key.startswith(("sk_live_", "rk_live_")) else 25


def _key(request: Request) -> str | None:
    """The API key: `Bearer <key>`, or HTTP basic auth with the key as the user name."""
    auth = request.headers.get("authorization", "")
    if auth.startswith("Bearer "):
        return auth[7:].strip()
    if auth.startswith("Basic "):
        try:
            return base64.b64decode(auth[6:]).decode().split(":", 1)[0]
        except ValueError:
            return None
    return None


def _int(params: Any, name: str) -> int:
    try:
        return int(params[name])
    except ValueError:
        raise StripeError(400, "invalid_request_error", f"Invalid integer: {params[name]}",
                          "parameter_invalid_integer", name) from None


def _window(params: Any, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    bounds: dict[str, Callable[[int, int], bool]] = {
        "gte": lambda c, v: c >= v, "gt": lambda c, v: c > v,
        "lte": lambda c, v: c <= v, "lt": lambda c, v: c < v}
    for op, test in bounds.items():
        name = f"created[{op}]"
        if name in params:
            value = _int(params, name)
            objects = [o for o in objects if test(o["created"], value)]
    if "created" in params:
        exact = _int(params, "created")
        objects = [o for o in objects if o["created"] == exact]
    return objects


def build_stripe_app(store: StripeStore) -> OutageMiddleware:
    """The Stripe sandbox as an ASGI app (outage, then faults, then Starlette)."""

    def answer(body: dict[str, Any], status: int, version: str,
               extra: dict[str, str] | None = None) -> Response:
        headers = {"Request-Id": f"req_{uuid.uuid4().hex[:14]}", "Stripe-Version": version,
                   **(extra or {})}
        return JSONResponse(body, status_code=status, headers=headers)

    def authorise(request: Request, endpoint: str) -> str:
        key = _key(request)
        if key is None:
            raise StripeError(401, "invalid_request_error", "You did not provide an API key.")
        revoked = endpoint in store.revoke_after and \
            store.stats[f"requests:{endpoint}"] > store.revoke_after[endpoint]
        if key != store.api_key or store.faults.credentials_revoked() or revoked:
            shown = f"{key[:8]}{'*' * 12}{key[-4:]}" if len(key) > 12 else "****"
            raise StripeError(401, "invalid_request_error",
                              f"Invalid API Key provided: {shown}", "api_key_invalid")
        version = request.headers.get("stripe-version", DEFAULT_VERSION)
        if version not in KNOWN_VERSIONS:
            raise StripeError(400, "invalid_request_error",
                              f"Invalid Stripe API version: {version}", "api_version_invalid")
        if not (store.limiter.take("read", store.read_limit)
                and store.limiter.take(endpoint, 25)):
            store.stats["rate_limited"] += 1
            raise StripeError(429, "invalid_request_error", "Request rate limit exceeded. "
                              "Learn more about rate limits here https://stripe.com/docs/"
                              "rate-limits.", "rate_limit")
        return version

    def list_objects(request: Request, resource: str) -> dict[str, Any]:
        params = request.query_params
        unknown = sorted(set(params) - ALWAYS - FILTERS - EXTRA.get(resource, set()))
        if unknown:
            raise StripeError(400, "invalid_request_error",
                              f"Received unknown parameter: {unknown[0]}",
                              "parameter_unknown", unknown[0])
        limit = _int(params, "limit") if "limit" in params else 10
        if not 1 <= limit <= 100:
            raise StripeError(400, "invalid_request_error", "Invalid limit: must be between "
                              "1 and 100", "parameter_invalid_integer", "limit")
        if "starting_after" in params and "ending_before" in params:
            raise StripeError(400, "invalid_request_error", "You may only specify one of "
                              "these parameters: starting_after, ending_before.")
        payout = params.get("payout") if resource == "balance_transactions" else None
        if payout is not None:
            found = store.ledger.get("payouts", payout)
            if found is None:
                raise StripeError(404, "invalid_request_error", f"No such payout: '{payout}'",
                                  "resource_missing", "payout")
            if not found["automatic"]:
                raise StripeError(400, "invalid_request_error", "Balance transaction "
                                  "history can only be filtered on automatic payouts.",
                                  param="payout")
        objects = store.ledger.listing(resource, payout)
        if resource == "events":
            oldest = store.now() - EVENT_RETENTION_S
            objects = [e for e in objects if e["created"] >= oldest]
            wanted = {v for k, v in params.multi_items() if k.startswith("types[")
                      or k == "type"}
            if wanted:
                objects = [e for e in objects if e["type"] in wanted]
        for name in ("type", "currency", "source") if resource == "balance_transactions" \
                else ():
            if name in params:
                objects = [o for o in objects if o.get(name) == params[name]]
        objects = _window(params, objects)
        ids = [o["id"] for o in objects]
        if "starting_after" in params:
            cursor = params["starting_after"]
            if cursor not in ids:
                raise StripeError(400, "invalid_request_error", f"Invalid starting_after id: "
                                  f"{cursor}", "resource_missing", "starting_after")
            objects = objects[ids.index(cursor) + 1:]
            page = objects[:limit]
        elif "ending_before" in params:
            cursor = params["ending_before"]
            if cursor not in ids:
                raise StripeError(400, "invalid_request_error", f"Invalid ending_before id: "
                                  f"{cursor}", "resource_missing", "ending_before")
            before = objects[:ids.index(cursor)]
            page, objects = before[-limit:], before
        else:
            page = objects[:limit]
        store.stats[f"objects:{resource}"] += len(page)
        return {"object": "list", "data": page, "has_more": len(objects) > len(page),
                "url": f"/v1/{resource}"}

    async def endpoint(request: Request) -> Response:
        resource = request.path_params["resource"]
        ident = request.path_params.get("ident")
        name = f"{resource}.{'retrieve' if ident else 'list'}"
        store.stats[f"requests:{name}"] += 1
        version = request.headers.get("stripe-version", DEFAULT_VERSION)
        try:
            if resource not in RESOURCES:
                raise StripeError(404, "invalid_request_error", "Unrecognized request URL "
                                  f"(GET: /v1/{resource}).")
            version = authorise(request, name)
            if ident is None:
                return answer(list_objects(request, resource), 200, version)
            found = next((e for e in store.ledger.events if e["id"] == ident), None) \
                if resource == "events" else store.ledger.get(resource, ident)
            if found is None:
                raise StripeError(404, "invalid_request_error",
                                  f"No such {resource.rstrip('s')}: '{ident}'",
                                  "resource_missing", "id")
            return answer(found, 200, version)
        except StripeError as error:
            return answer(error.body, error.status, version if version in KNOWN_VERSIONS
                          else DEFAULT_VERSION)

    async def faults_ep(request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse(store.faults.update(await request.json()))
        return JSONResponse(store.faults.snapshot())

    async def outage_ep(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            if body.get("stop"):
                store.outage.stop()
                return JSONResponse(store.outage.snapshot())
            return JSONResponse(store.outage.start(**body))
        return JSONResponse(store.outage.snapshot())

    async def refund_ep(request: Request) -> Response:
        body = await request.json()
        at = int(body.get("at") or store.now())
        return JSONResponse(store.ledger.refund(body["charge"], int(body["amount"]), at))

    async def dispute_ep(request: Request) -> Response:
        body = await request.json()
        at = int(body.get("at") or store.now())
        if "dispute" in body:
            return JSONResponse(store.ledger.close_dispute(body["dispute"], bool(body["won"]),
                                                           at))
        return JSONResponse(store.ledger.dispute(body["charge"], at))

    routes = [
        Route("/v1/{resource}", endpoint), Route("/v1/{resource}/{ident}", endpoint),
        Route("/_sandbox/faults", faults_ep, methods=["GET", "POST"]),
        Route("/_sandbox/outage", outage_ep, methods=["GET", "POST"]),
        Route("/_sandbox/refunds", refund_ep, methods=["POST"]),
        Route("/_sandbox/disputes", dispute_ep, methods=["POST"]),
    ]

    def server_error(status: int) -> tuple[int, dict[str, str], bytes]:
        body = {"error": {"type": "api_error", "message": "An unknown error occurred"}}
        return status, {"Content-Type": "application/json", "Stripe-Should-Retry": "true",
                        "Request-Id": f"req_{uuid.uuid4().hex[:14]}"}, json.dumps(body).encode()

    def throttled() -> tuple[int, dict[str, str], bytes]:
        body = StripeError(429, "invalid_request_error", "Request rate limit exceeded.",
                           "rate_limit").body
        return 429, {"Content-Type": "application/json",
                     "Request-Id": f"req_{uuid.uuid4().hex[:14]}"}, json.dumps(body).encode()

    faulted = FaultMiddleware(Starlette(routes=routes), store.faults, server_error, throttled)
    faulted.store = store
    app = OutageMiddleware(faulted, store.outage)
    app.store = store
    return app


def start_stripe(ledger: StripeLedger | None = None, api_key: str = "sk_test_sandbox",
                 faults: Faults | FaultSettings | dict[str, Any] | None = None,
                 port: int = 0, now: float | None = None) -> tuple[SandboxServer, StripeStore]:
    """Start a Stripe sandbox holding `ledger`; returns (server, store)."""
    store = StripeStore(ledger, api_key=api_key, faults=faults, now=now)
    return SandboxServer(build_stripe_app(store), port=port).start(), store
