"""QuickBooks Online Accounting API v3 sandbox: OAuth2 token endpoint, entities, query.

Reproduces what breaks real QBO integrations: rotating refresh tokens, a plain-text 401,
per-realm throttling, `requestid` replay of retried writes, SyncToken conflicts, the
validation Faults, and (through the fault knobs) a write whose answer never arrives. Change
data capture (`/cdc`) and webhook notifications tell the app what changed in the company.
`/_sandbox/...` is the bookkeeper's side of the company, for tests and drift injection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from integrations_pipelines.sandbox.faults import (
    FaultMiddleware,
    FaultSettings,
    apply_field_drift,
)
from integrations_pipelines.sandbox.quickbooks_cdc import change_data_capture
from integrations_pipelines.sandbox.quickbooks_edge import IntuitEdge, tid_headers
from integrations_pipelines.sandbox.quickbooks_errors import (
    QboFault,
    forbidden_body,
    invalid,
    system_body,
    throttled_body,
)
from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore

__all__ = ["QuickBooksStore", "build_quickbooks_app"]

ENTITIES = {"customer": "Customer", "invoice": "Invoice", "item": "Item"}
AUTH_FAILED = "AuthenticationFailed; errorCode=003200; statusCode=401"


def build_quickbooks_app(store: QuickBooksStore) -> FaultMiddleware:
    """The QBO sandbox as an ASGI app (fault layer around Starlette); `.store` is `store`."""

    def reply(status: int, body: dict[str, Any], headers: dict[str, str] | None = None
              ) -> Response:
        return JSONResponse(body, status_code=status, headers=headers,
                            media_type="application/json;charset=UTF-8")

    def throttle_answer() -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json;charset=UTF-8"}
        if store.throttle_retry_after is not None:
            headers["Retry-After"] = str(store.throttle_retry_after)
        return 429, headers, json.dumps(throttled_body(store.now_text())).encode()

    def gate(request: Request, name: str) -> Response | None:
        """Auth, realm and throttle checks every API call passes first."""
        store.stats[f"requests:{name}"] += 1
        if store.faults.credentials_revoked():
            store.tokens.revoke_all()  # the user disconnected the app
        elif store.faults.access_token_expires_now():
            store.tokens.expire_access()  # expired early: the client must refresh
        if not store.tokens.access_ok(request.headers.get("authorization")):
            store.stats["unauthorized"] += 1
            return PlainTextResponse(AUTH_FAILED, status_code=401, headers={
                "WWW-Authenticate": 'Bearer realm="Intuit", error="invalid_token"'})
        if request.path_params["realm"] != store.realm_id:
            return reply(403, forbidden_body(store.now_text()))
        if store.throttle():
            status, headers, body = throttle_answer()
            return Response(body, status_code=status, headers=headers)
        return None

    async def token(request: Request) -> Response:
        store.stats["requests:token"] += 1
        form = dict(parse_qsl((await request.body()).decode("utf-8")))
        if store.faults.credentials_revoked():
            store.tokens.revoke_all()
        status, body = store.tokens.refresh(request.headers.get("authorization"), form)
        return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})

    async def read(request: Request) -> Response:
        entity = ENTITIES.get(request.path_params["entity"].lower())
        blocked = gate(request, f"read:{entity}")
        if blocked is not None:
            return blocked
        if entity is None:
            return reply(400, invalid("Unsupported entity").body(store.now_text()))
        try:
            found = store.get(entity, request.path_params["ident"])
        except QboFault as fault:
            return reply(fault.status, fault.body(store.now_text()))
        return reply(200, _drifted(store, {entity: found, "time": store.now_text()}))

    async def query(request: Request) -> Response:
        blocked = gate(request, "query")
        if blocked is not None:
            return blocked
        text = request.query_params.get("query")
        if request.method == "POST":
            text = (await request.body()).decode("utf-8")
        try:
            if not text:
                raise invalid("query parameter is required", "query")
            result = store.query(text)
        except QboFault as fault:
            return reply(fault.status, fault.body(store.now_text()))
        return reply(200, {"QueryResponse": _drifted(store, result), "time": store.now_text()})

    async def cdc(request: Request) -> Response:
        blocked = gate(request, "cdc")
        if blocked is not None:
            return blocked
        params = request.query_params
        try:
            result = change_data_capture(store, params.get("entities"),
                                         params.get("changedSince"))
        except QboFault as fault:
            return reply(fault.status, fault.body(store.now_text()))
        for part in result["CDCResponse"][0]["QueryResponse"]:
            _drifted(store, part)
        return reply(200, result)

    async def write(request: Request) -> Response:
        entity = ENTITIES.get(request.path_params["entity"].lower())
        blocked = gate(request, f"write:{entity}")
        if blocked is not None:
            return blocked
        request_id = request.query_params.get("requestid")
        if request_id is not None and len(request_id) > 50:
            fault = invalid("requestid must be at most 50 characters", "requestid")
            return reply(400, fault.body(store.now_text()))
        if request_id:
            original = store.replay(request_id)
            if original is not None:
                return reply(original[0], _drifted(store, original[1]))
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        status, answer = _perform(store, entity, request.query_params.get("operation"), body)
        if request_id:
            store.remember(request_id, status, answer)
        if status == 200:
            hang = store.faults.after_write(request.scope)
            if hang:
                await asyncio.sleep(hang)
        return reply(status, _drifted(store, answer))

    routes = [
        Route("/oauth2/v1/tokens/bearer", token, methods=["POST"]),
        Route("/v3/company/{realm}/query", query, methods=["GET", "POST"]),
        Route("/v3/company/{realm}/cdc", cdc, methods=["GET"]),
        Route("/v3/company/{realm}/{entity}", write, methods=["POST"]),
        Route("/v3/company/{realm}/{entity}/{ident}", read, methods=["GET"]),
        *_admin_routes(store),
    ]
    def storm_answer() -> tuple[int, dict[str, str], bytes]:
        status, headers, body = throttle_answer()
        return status, tid_headers(headers), body

    edge = IntuitEdge(Starlette(routes=routes), lambda: int(store.max_concurrent),
                      throttle_answer, lambda: store.stats.update(["concurrency_refused"]))
    app = FaultMiddleware(
        edge, store.faults,
        lambda status: (status, tid_headers({"Content-Type": "application/json;charset=UTF-8"}),
                        json.dumps(system_body(store.now_text())).encode()),
        storm_answer)
    app.store = store
    return app


def _drifted(store: QuickBooksStore, body: dict[str, Any]) -> dict[str, Any]:
    """An answer (entity envelope or QueryResponse) with the invoice schema drift applied."""
    drift = store.faults.drift()
    if not drift:
        return body
    found = body.get("Invoice")
    invoices = found if isinstance(found, list) else [found] if isinstance(found, dict) else []
    for invoice in invoices:
        if drift.get("amounts_as_strings"):
            for holder in [invoice, *(invoice.get("Line") or [])]:
                for key in ("TotalAmt", "Balance", "HomeTotalAmt", "Amount"):
                    if isinstance(holder.get(key), int | float):
                        holder[key] = f"{holder[key]:.2f}"
        apply_field_drift(invoice, drift)
    cap = drift.get("page_size_cap")
    for key, rows in list(body.items()):
        if cap and isinstance(rows, list) and len(rows) > int(cap):
            body[key] = rows[:int(cap)]  # the same as QuickBooks capping MAXRESULTS
            body["maxResults"] = int(cap)
    return body


def _perform(store: QuickBooksStore, entity: str | None, operation: str | None,
             body: Any) -> tuple[int, dict[str, Any]]:
    """Run one write and turn a Fault into QBO's 400 answer."""
    try:
        if not isinstance(body, dict):
            raise invalid("Request body is not a valid JSON object")
        actions: dict[tuple[str | None, str | None],
                      Callable[[dict[str, Any]], dict[str, Any]]] = {
            ("Customer", None): store.save_customer, ("Customer", "update"): store.save_customer,
            ("Invoice", None): store.save_invoice, ("Invoice", "update"): store.save_invoice,
            ("Invoice", "void"): store.void_invoice, ("Invoice", "delete"): store.delete_invoice,
        }
        action = actions.get((entity, operation))
        if action is None or entity is None:  # no action is keyed by a missing entity
            raise invalid(f"Operation {operation or 'create'} is not supported for {entity}")
        result = action(body)
    except QboFault as fault:
        return fault.status, fault.body(store.now_text())
    return 200, {entity: result, "time": store.now_text()}


def _admin_routes(store: QuickBooksStore) -> list[Route]:
    """The bookkeeper's side: raw edits, tokens, knobs, reset, counters."""

    async def invoices(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"invoices": store.all_invoices()})
        return JSONResponse({"Invoice": store.insert_invoice_raw(await request.json())})

    async def invoice(request: Request) -> Response:
        ident = request.path_params["ident"]
        if request.method == "DELETE":
            return JSONResponse({"deleted": store.delete_invoice_raw(ident)})
        try:
            row = store.patch_invoice_raw(ident, await request.json())
        except QboFault as fault:
            return JSONResponse(fault.body(store.now_text()), status_code=404)
        return JSONResponse({"Invoice": row})

    async def customers(request: Request) -> Response:
        return JSONResponse({"customers": store.all_customers()})

    async def tokens(request: Request) -> Response:
        action = request.path_params.get("action")
        if action == "revoke":
            store.tokens.revoke_all()
        elif action == "expire-access":
            store.tokens.expire_access()
        elif action == "expire-refresh":
            store.tokens.expire_refresh()
        elif action == "issue":
            return JSONResponse(store.tokens.issue())
        elif action is not None:
            return JSONResponse({"error": f"unknown action {action}"}, status_code=404)
        return JSONResponse({"current_refresh_token": store.tokens.current_refresh_token,
                             "refreshes": store.tokens.refreshes})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            changes = await request.json()
            fault_keys = set(FaultSettings.__dataclass_fields__)
            try:
                store.faults.update({k: v for k, v in changes.items() if k in fault_keys})
                store.update_settings({k: v for k, v in changes.items() if k not in fault_keys})
            except ValueError as error:
                return JSONResponse({"error": str(error)}, status_code=400)
        return JSONResponse({**store.faults.snapshot(), **store.settings()})

    async def reset(request: Request) -> Response:
        store.reset()
        return JSONResponse({"reset": True})

    async def stats(request: Request) -> Response:
        return JSONResponse({**store.stats, "faults_injected": dict(store.faults.injected)})

    async def webhooks(request: Request) -> Response:
        if request.method == "POST":
            body = await request.json()
            if not isinstance(body, dict) or set(body) - {"url", "verifier_token", "entities"}:
                return JSONResponse({"error": "expected {url, verifier_token, entities}"},
                                    status_code=400)
            return JSONResponse(store.webhooks.configure(**body))
        return JSONResponse(store.webhooks.settings())

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"deliveries": store.webhooks.deliveries()})

    return [
        Route("/_sandbox/invoices", invoices, methods=["GET", "POST"]),
        Route("/_sandbox/invoices/{ident}", invoice, methods=["PATCH", "DELETE"]),
        Route("/_sandbox/customers", customers, methods=["GET"]),
        Route("/_sandbox/tokens", tokens, methods=["GET"]),
        Route("/_sandbox/tokens/{action}", tokens, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/webhooks", webhooks, methods=["GET", "POST"]),
        Route("/_sandbox/webhooks/deliveries", deliveries, methods=["GET"]),
    ]
