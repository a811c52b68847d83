"""Xero Accounting API sandbox: OAuth2, tenants, limits, idempotency, the accounting books.

Reproduces what breaks real Xero integrations: access tokens of 30 minutes, refresh tokens
that rotate on every use (the previous one still works for a 30-minute grace period) and
die after 60 days unused; `xero-tenant-id` required on every call (403 without it, or for
a tenant the app is not connected to); the limits per tenant (60 a minute, 5000 a day, 5 at
once) and per app (10,000 a minute), stated on every answer in `X-MinLimit-Remaining`,
`X-DayLimit-Remaining` and `X-AppMinLimit-Remaining`, with a 429 carrying `Retry-After`,
`X-Rate-Limit-Problem` and a form-encoded body; `Idempotency-Key` replays the first answer
of a write; batches of invoices with `summarizeErrors=false` (each element with its own
`HasErrors` and `ValidationErrors`, the valid ones saved) or one 400 `ValidationException`
otherwise; MS-JSON dates; webhook deliveries of the changed invoices signed with
`x-xero-signature` (and the "intent to receive" pair, one signed wrongly), sent to the
app's `webhook_url` and sent again until taken (`deliver_webhooks`); and the fault
knobs shared by every sandbox. The books and their
rules are `xero_books.Books`; `/_sandbox/...` is the bookkeeper's side.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations_pipelines.sandbox.faults import FaultMiddleware, Faults, FaultSettings
from integrations_pipelines.sandbox.quickbooks_tokens import TokenAuthority
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.shopify_store import atomic_write
from integrations_pipelines.sandbox.xero_books import Books, BooksError
from integrations_pipelines.vendors.xero.webhooks import SIGNATURE_HEADER, sign

__all__ = ["XeroStore", "XeroTokens", "build_xero_app", "start_xero"]

API = "/api.xro/2.0"
MAX_REQUEST_BYTES = 3_500_000  # Xero's size limit of one POST/PUT
RATE_LIMITED_BODY = ("oauth_problem=rate%20limit%20exceeded&oauth_problem_advice="
                     "please%20wait%20before%20retrying%20the%20xero%20api")


class XeroTokens(TokenAuthority):
    """Xero's identity server: 30-minute access tokens, rotating refresh tokens (60 days
    unused, a 30-minute grace for the previous one), and no refresh lifetime in the answer."""

    def _issue(self, now: float) -> dict[str, Any]:
        grant = super()._issue(now)
        grant.pop("x_refresh_token_expires_in", None)
        grant["token_type"] = "Bearer"
        grant["scope"] = "offline_access accounting.transactions accounting.contacts"
        return grant


class XeroStore:
    """The sandbox's state: the app's tokens, each connected tenant's books, the limits."""

    def __init__(self, *, tenant_ids: tuple[str, ...] = ("sandbox-tenant-uk",),
                 client_id: str = "sandbox-xero-client", client_secret: str = "sandbox-xero-secret",
                 refresh_token: str = "sandbox-xero-refresh-0",
                 faults: Faults | FaultSettings | dict[str, Any] | None = None,
                 per_minute: int = 60, per_day: int = 5000, max_concurrent: int = 5,
                 app_per_minute: int = 10_000, access_lifetime: int = 1800,
                 refresh_lifetime: int = 60 * 86_400, rotation_grace_seconds: float = 1800.0,
                 webhook_key: str = "sandbox-xero-webhook-key",
                 webhook_url: str | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.tenants = {t: Books(t) for t in tenant_ids}
        self.tokens = XeroTokens(client_id, client_secret, refresh_token,
                                 access_lifetime=access_lifetime,
                                 refresh_lifetime=refresh_lifetime,
                                 rotation_grace_seconds=rotation_grace_seconds, clock=clock)
        self.faults = faults if isinstance(faults, Faults) else Faults(faults)
        self.per_minute, self.per_day = per_minute, per_day
        self.max_concurrent, self.app_per_minute = max_concurrent, app_per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._minute: dict[str, deque[float]] = {t: deque() for t in tenant_ids}
        self._day: dict[str, int] = dict.fromkeys(tenant_ids, 0)
        self._app_minute: deque[float] = deque()
        self._in_flight: dict[str, int] = dict.fromkeys(tenant_ids, 0)
        self._replies: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self.stats: dict[str, int] = {}
        self.idempotent_replays = 0
        self.webhook_key = webhook_key
        self.webhook_url = webhook_url  # the app's delivery URL (Xero's developer portal)
        self._sequence = 0
        self._unsent: deque[tuple[bytes, dict[str, str]]] = deque()

    def webhook_delivery(self, *, signed_by: str | None = None,
                         intent: bool = False) -> tuple[bytes, dict[str, str]]:
        """The next webhook delivery (every tenant's pending events, or none for an
        "intent to receive" check) and its headers, signed with the webhook key (or with
        `signed_by`: what Xero's intent check sends to prove the endpoint refuses it)."""
        events: list[dict[str, Any]] = []
        if not intent:
            for books in self.tenants.values():
                with books.lock:
                    events.extend(books.events)
                    books.events.clear()
        first = self._sequence + 1 if events else 0
        self._sequence += len(events)
        body = json.dumps({"events": events, "firstEventSequence": first,
                           "lastEventSequence": self._sequence if events else 0,
                           "entropy": secrets.token_hex(10).upper()}).encode()
        signature = sign(body, signed_by if signed_by is not None else self.webhook_key)
        return body, {SIGNATURE_HEADER: signature, "Content-Type": "application/json"}

    def deliver_webhooks(self, timeout: float = 10.0) -> list[int]:
        """Send what changed to `webhook_url`, as Xero does: the waiting events of every
        tenant in one signed delivery, and any earlier delivery the endpoint did not take
        first, with the same bytes (Xero retries a delivery that was not answered 200).
        Stops at the first refusal, which stays queued; returns the statuses."""
        if self.webhook_url is None:
            return []
        with self._lock:
            pending = any(books.events for books in self.tenants.values())
        if pending:
            self._unsent.append(self.webhook_delivery())
        statuses: list[int] = []
        with httpx.Client(timeout=timeout) as client:
            while self._unsent:
                body, headers = self._unsent[0]
                try:
                    status = client.post(self.webhook_url, content=body,
                                         headers=headers).status_code
                except httpx.HTTPError:
                    status = 0
                statuses.append(status)
                self.count(f"webhook:{status}")
                if status != 200:
                    break
                self._unsent.popleft()
        return statuses

    _KEPT = ("invoices", "credit_notes", "payments", "contacts", "history")

    def save(self, path: Path) -> None:
        """Persist the tokens and every tenant's books (what `dev` keeps across restarts:
        without the rotated refresh token the store's copy would be refused)."""
        data = {"tokens": self.tokens.snapshot(), "sequence": self._sequence,
                "tenants": {t: {k: getattr(b, k) for k in self._KEPT}
                            for t, b in self.tenants.items()}}
        atomic_write(path, json.dumps(data))

    @classmethod
    def load(cls, path: Path, **kwargs: Any) -> XeroStore:
        """A store saved with `save`."""
        data = json.loads(path.read_text(encoding="utf-8"))
        store = cls(tenant_ids=tuple(data["tenants"]), **kwargs)
        store.tokens.restore(data["tokens"])
        store._sequence = int(data.get("sequence", 0))
        for tenant, kept in data["tenants"].items():
            for name in cls._KEPT:
                setattr(store.tenants[tenant], name, kept.get(name, {}))
        return store

    @property
    def books(self) -> Books:
        """The first tenant's books (most tests connect one organisation)."""
        return next(iter(self.tenants.values()))

    def count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1

    def admit(self, tenant: str) -> tuple[str | None, dict[str, str]]:
        """Take one call against the tenant's and the app's limits: (problem or None, the
        remaining-calls headers)."""
        with self._lock:
            now = self._clock()
            minute, day = self._minute[tenant], self._day[tenant]
            for window in (minute, self._app_minute):
                while window and window[0] <= now - 60:
                    window.popleft()
            problem = None
            if day >= self.per_day:
                problem = "day"
            elif len(minute) >= self.per_minute:
                problem = "minute"
            elif len(self._app_minute) >= self.app_per_minute:
                problem = "appminute"
            elif self._in_flight[tenant] >= self.max_concurrent:
                problem = "concurrent"
            if problem is None:
                minute.append(now)
                self._app_minute.append(now)
                self._day[tenant] = day + 1
                self._in_flight[tenant] += 1
            headers = {
                "X-MinLimit-Remaining": str(max(self.per_minute - len(minute), 0)),
                "X-DayLimit-Remaining": str(max(self.per_day - self._day[tenant], 0)),
                "X-AppMinLimit-Remaining": str(max(self.app_per_minute
                                                   - len(self._app_minute), 0))}
            if problem == "minute" and minute:
                headers["Retry-After"] = str(max(1, int(minute[0] + 60 - now) + 1))
            elif problem == "day":
                headers["Retry-After"] = "86400"
            elif problem is not None:
                headers["Retry-After"] = "1"
            return problem, headers

    def release(self, tenant: str) -> None:
        with self._lock:
            self._in_flight[tenant] -= 1

    def replay(self, tenant: str, key: str | None) -> tuple[int, dict[str, Any]] | None:
        if key is None:
            return None
        with self._lock:
            found = self._replies.get((tenant, key))
            if found is not None:
                self.idempotent_replays += 1
            return found

    def remember(self, tenant: str, key: str | None, status: int, body: dict[str, Any]) -> None:
        if key is not None:
            with self._lock:
                self._replies.setdefault((tenant, key), (status, body))


def _modified_since(request: Request) -> datetime | None:
    """`If-Modified-Since`, as Xero takes it: an HTTP date, or a UTC timestamp
    `yyyy-mm-ddThh:mm:ss` (Xero's own examples); anything else is refused."""
    text = request.headers.get("if-modified-since")
    if not text:
        return None
    try:
        return parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError):
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BooksError(f"If-Modified-Since {text!r} is not a date") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _validation(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"ErrorNumber": 10, "Type": "ValidationException",
            "Message": "A validation exception occurred", "Elements": elements}


def _refused(body: dict[str, Any], error: BooksError) -> dict[str, Any]:
    return {**body, "HasErrors": True,
            "ValidationErrors": [{"Message": m} for m in error.messages]}


def build_xero_app(store: XeroStore) -> FaultMiddleware:
    """The Xero sandbox as an ASGI app (fault layer around Starlette); `.store` is `store`."""

    def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
        return JSONResponse(body, status_code=status, headers=headers)

    async def token(request: Request) -> Response:
        store.count("token")
        form = dict(parse_qsl((await request.body()).decode("utf-8")))
        if store.faults.credentials_revoked():
            store.tokens.revoke_all()
        status, body = store.tokens.refresh(request.headers.get("authorization"), form)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    async def connections(request: Request) -> Response:
        if not store.tokens.access_ok(request.headers.get("authorization")):
            return PlainTextResponse("Unauthorized", status_code=401)
        return reply(200, [{"id": t, "tenantId": t, "tenantType": "ORGANISATION",
                            "tenantName": b.name} for t, b in store.tenants.items()])

    def handler(name: str, work: Callable[[Books, Request, Any], tuple[int, Any]],
                write: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            store.count(name)
            if store.faults.credentials_revoked():
                store.tokens.revoke_all()
            elif store.faults.access_token_expires_now():
                store.tokens.expire_access()
            if not store.tokens.access_ok(request.headers.get("authorization")):
                store.count("unauthorized")
                return reply(401, {"Type": None, "Title": "Unauthorized", "Status": 401,
                                   "Detail": "TokenExpired: token expired or invalid"},
                             {"WWW-Authenticate": 'Bearer error="invalid_token"'})
            tenant = request.headers.get("xero-tenant-id")
            if tenant not in store.tenants:
                return reply(403, {"Type": None, "Title": "Forbidden", "Status": 403,
                                   "Detail": "AuthenticationUnsuccessful"})
            problem, headers = store.admit(tenant)
            if problem is not None:
                store.count(f"429:{problem}")
                return Response(RATE_LIMITED_BODY, status_code=429, headers={
                    **headers, "X-Rate-Limit-Problem": problem,
                    "Content-Type": "application/x-www-form-urlencoded"})
            try:
                key = request.headers.get("idempotency-key") if write else None
                if write and key is None:
                    store.count("writes_without_idempotency_key")
                replayed = store.replay(tenant, key)
                if replayed is not None:
                    return reply(replayed[0], replayed[1], headers)
                raw = await request.body()
                if len(raw) > MAX_REQUEST_BYTES:
                    return reply(413, {"Title": "Request Entity Too Large", "Status": 413,
                                       "Detail": "A request is limited to 3.5 MB"}, headers)
                body = json.loads(raw) if raw else None
                try:
                    status, answer = work(store.tenants[tenant], request, body)
                except BooksError as error:
                    status = error.status
                    answer = (_validation([{"ValidationErrors": [{"Message": m} for m in
                                                                 error.messages]}])
                              if status == 400 else {"Title": "NotFound", "Status": status,
                                                     "Detail": "; ".join(error.messages)})
                if write and status < 500:
                    store.remember(tenant, key, status, answer)
                if write and status == 200:
                    # A committed write: its answer may be lost or late (the fault knobs).
                    hang = store.faults.after_write(request.scope)
                    if hang:
                        await asyncio.sleep(hang)
                return reply(status, answer, headers)
            finally:
                store.release(tenant)
        return endpoint

    def paged(request: Request, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        params = request.query_params
        if "page" in params:
            size = min(int(params.get("pageSize", "100")), 1000)
            page = int(params["page"])
            found = found[(page - 1) * size: page * size]
        return found

    def list_invoices(books: Books, request: Request, _: Any) -> tuple[int, Any]:
        params = request.query_params
        numbers = params.get("InvoiceNumbers")
        found = books.query_invoices(params.get("where"),
                                     numbers.split(",") if numbers is not None else None,
                                     _modified_since(request))
        if (ids := params.get("IDs")) is not None:
            found = [i for i in found if i["InvoiceID"] in ids.split(",")]
        return 200, {"Invoices": paged(request, found)}

    def list_credit_notes(books: Books, request: Request, _: Any) -> tuple[int, Any]:
        found = books.query_credit_notes(request.query_params.get("where"),
                                         _modified_since(request))
        return 200, {"CreditNotes": paged(request, found)}

    def get_invoice(books: Books, request: Request, _: Any) -> tuple[int, Any]:
        return 200, {"Invoices": [books.invoice(request.path_params["ident"])]}

    def put_invoices(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        documents = (body or {}).get("Invoices") if isinstance(body, dict) else None
        if not isinstance(documents, list):
            raise BooksError("The request must carry an Invoices list")
        summarize = request.query_params.get("summarizeErrors", "true").lower() != "false"
        answers, failed = [], []
        for document in documents:
            try:
                answers.append(books.create_invoice(document))
            except BooksError as error:
                answers.append(_refused(document, error))
                failed.append(_refused(document, error))
        if summarize and failed:
            return 400, _validation(failed)
        return 200, {"Invoices": answers}

    def post_invoice(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        [document] = (body or {}).get("Invoices") or [{}]
        return 200, {"Invoices": [books.update_invoice(request.path_params["ident"], document)]}

    def put_history(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        return 200, books.add_history(request.path_params["ident"], body or {})

    def put_credit_notes(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        documents = (body or {}).get("CreditNotes") or []
        return 200, {"CreditNotes": [books.create_credit_note(d) for d in documents]}

    def get_credit_note(books: Books, request: Request, _: Any) -> tuple[int, Any]:
        return 200, {"CreditNotes": [books.credit_note(request.path_params["ident"])]}

    def post_credit_note(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        [change] = (body or {}).get("CreditNotes") or [{}]
        return 200, {"CreditNotes": [books.update_credit_note(request.path_params["ident"],
                                                               change)]}

    def delete_allocation(books: Books, request: Request, _: Any) -> tuple[int, Any]:
        return 200, {"Allocations": [books.delete_allocation(
            request.path_params["ident"], request.path_params["allocation"])]}

    def allocate(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        return 200, books.allocate(request.path_params["ident"], body or {})

    def put_payments(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        documents = (body or {}).get("Payments") or []
        return 200, {"Payments": [books.create_payment(d) for d in documents]}

    def post_payment(books: Books, request: Request, body: Any) -> tuple[int, Any]:
        [change] = (body or {}).get("Payments") or [{}]
        if change.get("Status") != "DELETED":
            raise BooksError("A payment can only be deleted")
        return 200, {"Payments": [books.delete_payment(request.path_params["ident"])]}

    def tax_rates(books: Books, request: Request, _: Any) -> tuple[int, Any]:
        return 200, {"TaxRates": books.tax_rates()}

    routes = [
        Route("/connect/token", token, methods=["POST"]),
        Route("/connections", connections, methods=["GET"]),
        Route(f"{API}/Invoices", handler("invoices.list", list_invoices), methods=["GET"]),
        Route(f"{API}/Invoices", handler("invoices.put", put_invoices, True), methods=["PUT"]),
        Route(f"{API}/Invoices/{{ident}}", handler("invoices.get", get_invoice),
              methods=["GET"]),
        Route(f"{API}/Invoices/{{ident}}", handler("invoices.post", post_invoice, True),
              methods=["POST"]),
        Route(f"{API}/Invoices/{{ident}}/History", handler("history.put", put_history, True),
              methods=["PUT"]),
        Route(f"{API}/CreditNotes", handler("creditnotes.put", put_credit_notes, True),
              methods=["PUT"]),
        Route(f"{API}/CreditNotes", handler("creditnotes.list", list_credit_notes),
              methods=["GET"]),
        Route(f"{API}/CreditNotes/{{ident}}/Allocations",
              handler("allocations.put", allocate, True), methods=["PUT"]),
        Route(f"{API}/CreditNotes/{{ident}}/Allocations/{{allocation}}",
              handler("allocations.delete", delete_allocation, True), methods=["DELETE"]),
        Route(f"{API}/CreditNotes/{{ident}}", handler("creditnotes.get", get_credit_note),
              methods=["GET"]),
        Route(f"{API}/CreditNotes/{{ident}}", handler("creditnotes.post", post_credit_note,
                                                     True), methods=["POST"]),
        Route(f"{API}/Payments", handler("payments.put", put_payments, True), methods=["PUT"]),
        Route(f"{API}/Payments/{{ident}}", handler("payments.post", post_payment, True),
              methods=["POST"]),
        Route(f"{API}/TaxRates", handler("taxrates.get", tax_rates), methods=["GET"]),
        *_admin_routes(store),
    ]

    def make_5xx(status: int) -> tuple[int, dict[str, str], bytes]:
        return status, {"Content-Type": "application/json"}, json.dumps(
            {"Title": "An error occurred", "Status": status}).encode()

    def make_429() -> tuple[int, dict[str, str], bytes]:
        headers = {"Retry-After": "1", "X-Rate-Limit-Problem": "minute",
                   "Content-Type": "application/x-www-form-urlencoded"}
        return 429, headers, RATE_LIMITED_BODY.encode()

    app = FaultMiddleware(Starlette(routes=routes), store.faults, make_5xx, make_429)
    app.store = store
    return app


def _admin_routes(store: XeroStore) -> list[Route]:
    """The bookkeeper's side: read and change documents without the API's rules."""

    async def invoices(request: Request) -> Response:
        books = store.tenants[request.query_params.get("tenant") or store.books.tenant_id]
        return JSONResponse({"Invoices": books.query_invoices(None, None, None)})

    async def invoice(request: Request) -> Response:
        books = store.books
        ident = request.path_params["ident"]
        with books.lock:
            if request.method == "DELETE":
                books.invoices.pop(ident, None)
                return JSONResponse({"deleted": ident})
            changes = await request.json()
            books.invoices[ident].update(changes)
            books._touch(books.invoices[ident])
            return JSONResponse(books.invoice(ident))

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            return JSONResponse(store.faults.update(await request.json()))
        return JSONResponse(store.faults.snapshot())

    async def webhooks(request: Request) -> Response:
        if request.path_params.get("action") == "deliver":
            return JSONResponse({"statuses": await asyncio.to_thread(store.deliver_webhooks)})
        store.webhook_url = (await request.json()).get("url")
        return JSONResponse({"url": store.webhook_url})

    async def tokens(request: Request) -> Response:
        if request.path_params.get("action") == "issue":
            return JSONResponse(store.tokens.issue())
        return JSONResponse({"current_refresh_token": store.tokens.current_refresh_token,
                             "refreshes": store.tokens.refreshes})

    return [Route("/_sandbox/invoices", invoices, methods=["GET"]),
            Route("/_sandbox/invoices/{ident}", invoice, methods=["PATCH", "DELETE"]),
            Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
            Route("/_sandbox/tokens", tokens, methods=["GET"]),
            Route("/_sandbox/webhooks", webhooks, methods=["POST"]),
            Route("/_sandbox/webhooks/{action}", webhooks, methods=["POST"]),
            Route("/_sandbox/tokens/{action}", tokens, methods=["POST"])]


def start_xero(port: int = 0, **store_kwargs: Any) -> tuple[SandboxServer, XeroStore]:
    """Start a Xero sandbox (one UK organisation unless `tenant_ids` says otherwise)."""
    store = XeroStore(**store_kwargs)
    return SandboxServer(build_xero_app(store), port=port).start(), store
