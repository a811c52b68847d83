"""QuickBooks Online Accounting v3 client: query, customers, invoices, with `requestid`.

Every write carries a `requestid` derived from what is being written, so a retried or
re-run write returns QuickBooks' original answer instead of creating a second record.
Every answer is validated against our models (`contracts`) before its dict is returned.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

import httpx
import sqlalchemy as sa

from integrations_pipelines.settings import QuickBooksSettings
from integrations_pipelines.vendors.budget import RateLimit, SharedRequestBudget
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.errors import (
    AuthenticationError,
    CredentialsRevokedError,
    VendorError,
)
from integrations_pipelines.vendors.http import Pacer, VendorHttpClient
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.oauth import OAuthApp, TokenManager
from integrations_pipelines.vendors.quickbooks.errors import QuickBooksFault
from integrations_pipelines.vendors.quickbooks.models import ENTITY_MODELS

__all__ = [
    "INTUIT_TID", "MAX_REQUEST_ID", "MIN_PAGE_CAP", "QUERY_PAGE_SIZE", "TOKEN_REUSE_S",
    "QuickBooksClient",
    "connect", "parse_fault", "quote", "realm_budget",
]

MAX_REQUEST_ID = 50
QUERY_PAGE_SIZE = 1000
INTUIT_TID = "intuit_tid"  # on every answer; Intuit support asks for it
MIN_PAGE_CAP = 2  # no vendor caps a page below 2 rows: 1-row lookups need no confirmation
# Seconds an access token read from the store is reused: well under the store's refresh
# margin (5 minutes), so the token reused is still valid; QuickBooks keeps an access token
# valid until its expiry even when another process refreshes meanwhile.
TOKEN_REUSE_S = 30.0
AUTH_ROUNDS = 3  # rounds of (refresh, try) a request may take while its token is refused


def quote(value: str) -> str:
    """A QuickBooks query string literal: apostrophes (O'Brien) escaped with a backslash."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_fault(response: httpx.Response, kw: dict[str, Any]) -> VendorError | None:
    """Turn a `{"Fault": {...}}` body into a QuickBooksFault with its error codes."""
    try:
        body = response.json()
    except ValueError:
        return None
    fault = body.get("Fault") if isinstance(body, dict) else None
    if not isinstance(fault, dict):
        return None
    errors = fault.get("Error") or []
    first = errors[0] if errors else {}
    message = f"{first.get('code')}: {first.get('Message')} ({first.get('Detail')})"
    return QuickBooksFault(message, errors=errors, fault_type=str(fault.get("type")), **kw)


def realm_budget(engine: sa.Engine, realm_id: str, per_second: int = 10,
                 per_minute: int = 500) -> SharedRequestBudget:
    """The realm's request budget (Intuit throttles 10/s and 500/min per realm), shared
    with every other process calling the realm."""
    return SharedRequestBudget(engine, f"quickbooks:{realm_id}", [
        RateLimit.window("second", per_second, 1.0),
        RateLimit.window("minute", per_minute, 60.0),
    ])


def connect(settings: QuickBooksSettings, engine: sa.Engine, *,
            metrics: HttpMetrics | None = None, contracts: ContractGuard | None = None,
            budget: Pacer | None = None, **http_kw: Any) -> QuickBooksClient:
    """A client for one realm whose tokens live in the integration store. QuickBooks sends
    no rate-limit headers: its published per-realm limits are kept by `budget` (the
    realm's `SharedRequestBudget`), which the token endpoint does not count against."""
    metrics = metrics or HttpMetrics()
    token_http = VendorHttpClient("quickbooks", settings.token_url, metrics=metrics,
                                  request_id_header=INTUIT_TID, **http_kw)
    tokens = TokenManager(
        engine,
        OAuthApp(f"quickbooks:{settings.realm_id}", settings.token_url, settings.client_id,
                 settings.client_secret),
        http=token_http,
        bootstrap_refresh_token=settings.bootstrap_refresh_token,
    )
    sent = threading.local()  # the token this thread sent last (several may be in flight)
    # The access token last read from the store and until when it is reused. A token read
    # while a refresh was under way, or before one that started since, is not kept: it may
    # be the one QuickBooks just refused.
    held: dict[str, Any] = {"refreshes": 0, "refreshing": 0}
    guard = threading.Lock()

    def auth_headers() -> dict[str, str]:
        # Read from the store once per TOKEN_REUSE_S, not once a request (a query and a
        # pooled connection's ping each time): a token read there is valid for at least
        # the refresh margin, far longer, and a 401 drops it.
        now = time.monotonic()
        with guard:
            token, before = held.get("token"), held["refreshes"]
            if held.get("until", 0.0) <= now:
                token = None
        if token is None:
            token = tokens.access_token()
            with guard:
                if held["refreshes"] == before and not held["refreshing"]:
                    held.update(token=token, until=now + TOKEN_REUSE_S)
        sent.token = token
        return {"Authorization": f"Bearer {token}"}

    def refresh_after_401() -> None:
        with guard:
            held["refreshes"] += 1
            held["refreshing"] += 1
            held.pop("token", None)
        try:
            tokens.force_refresh(rejected_token=getattr(sent, "token", None))
        finally:
            with guard:
                held["refreshing"] -= 1

    http = VendorHttpClient(
        "quickbooks", settings.base_url,
        auth_headers=auth_headers,
        on_unauthorized=refresh_after_401,
        default_headers={"Accept": "application/json"},
        metrics=metrics, error_parser=parse_fault, pacers=[budget] if budget else [],
        request_id_header=INTUIT_TID, **http_kw,
    )
    contracts = contracts or ContractGuard(engine)
    contracts.redactor.register(settings.client_secret, settings.bootstrap_refresh_token)
    return QuickBooksClient(http, settings.realm_id, settings.minor_version, tokens=tokens,
                            contracts=contracts)


class QuickBooksClient:
    """One QuickBooks company (realm)."""

    def __init__(self, http: VendorHttpClient, realm_id: str, minor_version: str = "75",
                 tokens: TokenManager | None = None,
                 contracts: ContractGuard | None = None) -> None:
        self.http = http
        self.realm_id = realm_id
        self.minor_version = minor_version
        self.tokens = tokens
        self.contracts = contracts or ContractGuard()
        # QuickBooks' page cap is at least the largest page it ever returned (and at least
        # MIN_PAGE_CAP): a page shorter than that is provably the last one (see `query`).
        self._cap_at_least = MIN_PAGE_CAP
        self._recovering = threading.Lock()  # held by a request recovering its token

    def _request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        """`http.request` (which refreshes the token once after a 401 and tries again). With
        several writes in flight (`CONCURRENT_WRITES`), QuickBooks may refuse a token that
        another request has just refreshed, before this request's retry is sent: such a
        request then recovers alone (the client's other requests wait before sending, as
        they would be refused too), up to `AUTH_ROUNDS` rounds of refresh and try. Revoked
        credentials are never tried again."""
        with self._recovering:
            pass  # another request is recovering its token: wait for it
        try:
            return self.http.request(method, url, **kw)
        except CredentialsRevokedError:
            raise
        except AuthenticationError:
            pass
        with self._recovering:
            for _ in range(AUTH_ROUNDS - 2):
                try:
                    return self.http.request(method, url, **kw)
                except CredentialsRevokedError:
                    raise
                except AuthenticationError:
                    continue  # refused again after a refresh: refresh and try once more
            return self.http.request(method, url, **kw)

    def _url(self, resource: str) -> str:
        return f"/v3/company/{self.realm_id}/{resource}"

    def _params(self, **extra: str) -> dict[str, str]:
        return {"minorversion": self.minor_version, **extra}

    def _entity(self, entity: str, row: Any, endpoint: str) -> dict[str, Any]:
        """Validate one returned entity against its model (drift recorded); return it."""
        model = ENTITY_MODELS.get(entity)
        if model is not None:
            self.contracts.validate(model, row, vendor="quickbooks", endpoint=endpoint)
        return cast(dict[str, Any], row)

    def _envelope(self, body: Any, key: str, endpoint: str) -> Any:
        """`body[key]`, or a recorded contract violation naming the missing key."""
        if not isinstance(body, dict) or key not in body:
            raise self.contracts.violation(f"{key}Response", key, "missing: the answer has no "
                                           f"`{key}`", body, vendor="quickbooks",
                                           endpoint=endpoint)
        return body[key]

    def query(self, entity: str, where: str | None = None, *,
              page_size: int = QUERY_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every entity matching `where`, walking STARTPOSITION pages to the end.

        A page shorter than asked is the end only if QuickBooks' page cap is known to be
        larger; otherwise one more page is asked for, so a cap lowered below `page_size`
        (a vendor change) never truncates a result silently.
        """
        start = 1
        model = ENTITY_MODELS.get(entity)
        while True:
            sql = f"select * from {entity}"
            if where:
                sql += f" where {where}"
            sql += f" orderby Id STARTPOSITION {start} MAXRESULTS {page_size}"
            response = self._request(
                "GET", self._url("query"), endpoint=f"query.{entity.lower()}",
                params=self._params(query=sql),
            )
            endpoint = f"query.{entity.lower()}"
            found = self._envelope(response.json(), "QueryResponse", endpoint)
            # An empty result is `"QueryResponse": {}` with the entity key absent.
            rows = found.get(entity, []) if isinstance(found, dict) else None
            if not isinstance(rows, list):
                raise self.contracts.violation("QueryResponse", f"QueryResponse.{entity}",
                                               "type: not a list", found, vendor="quickbooks",
                                               endpoint=endpoint)
            if model is not None:
                self.contracts.validate_many(model, rows, vendor="quickbooks",
                                             endpoint=endpoint)
            yield from rows
            if not rows or len(rows) < min(page_size, self._cap_at_least):
                return  # provably the last page
            self._cap_at_least = max(self._cap_at_least, len(rows))
            start += len(rows)

    def _write(self, entity: str, body: dict[str, Any], request_id: str, *,
               operation: str | None = None) -> dict[str, Any]:
        if len(request_id) > MAX_REQUEST_ID:
            raise ValueError(f"requestid longer than {MAX_REQUEST_ID} characters")
        params = self._params(requestid=request_id)
        if operation:
            params["operation"] = operation
        endpoint = f"{entity.lower()}.{operation or ('update' if 'Id' in body else 'create')}"
        response = self._request(
            "POST", self._url(entity.lower()), params=params, json=body, endpoint=endpoint,
            # requestid makes the retried POST safe: QuickBooks answers the original.
            idempotent=True,
        )
        return self._entity(entity, self._envelope(response.json(), entity, endpoint),
                            endpoint)

    def changed_invoices(self, since: datetime) -> list[dict[str, Any]]:
        """Invoices changed since `since` (ChangeDataCapture, `/cdc?entities=Invoice`): full
        invoices, and `{"Id", "status": "Deleted", "MetaData"}` for deleted ones. Intuit
        keeps 30 days of changes and answers at most 1,000 objects per entity: a caller
        whose answer is that long polls again from the newest change it got."""
        response = self._request(
            "GET", self._url("cdc"), endpoint="cdc.invoice",
            params=self._params(entities="Invoice", changedSince=since.isoformat()))
        answers = self._envelope(response.json(), "CDCResponse", "cdc.invoice")
        found: list[dict[str, Any]] = []
        for answer in answers if isinstance(answers, list) else []:
            for part in (answer or {}).get("QueryResponse") or []:
                found.extend(x for x in (part or {}).get("Invoice") or []
                             if isinstance(x, dict))
        return found

    def get_invoice(self, invoice_id: str) -> dict[str, Any]:
        response = self._request("GET", self._url(f"invoice/{invoice_id}"),
                                     endpoint="invoice.read", params=self._params())
        return self._entity("Invoice", self._envelope(response.json(), "Invoice",
                                                      "invoice.read"), "invoice.read")

    def find_invoices_by_doc_number(self, doc_number: str) -> list[dict[str, Any]]:
        """The lookup by external key that makes a create after a crash safe."""
        return list(self.query("Invoice", f"DocNumber = {quote(doc_number)}"))

    def find_invoices_by_doc_numbers(self, doc_numbers: Sequence[str], *,
                                     chunk: int = 200) -> list[dict[str, Any]]:
        """The same lookup for a whole window at once: `DocNumber in (...)`, in chunks."""
        found: list[dict[str, Any]] = []
        for at in range(0, len(doc_numbers), chunk):
            values = ", ".join(quote(doc) for doc in doc_numbers[at:at + chunk])
            found.extend(self.query("Invoice", f"DocNumber in ({values})"))
        return found

    def create_invoice(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        return self._write("Invoice", body, request_id)

    def update_invoice(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        """Sparse update; `body` must carry Id and the current SyncToken."""
        return self._write("Invoice", {**body, "sparse": True}, request_id)

    def void_invoice(self, invoice_id: str, sync_token: str, request_id: str) -> dict[str, Any]:
        return self._write("Invoice", {"Id": invoice_id, "SyncToken": sync_token}, request_id,
                           operation="void")

    def find_customers(self, where: str) -> list[dict[str, Any]]:
        return list(self.query("Customer", where))

    def create_customer(self, body: dict[str, Any], request_id: str) -> dict[str, Any]:
        return self._write("Customer", body, request_id)
