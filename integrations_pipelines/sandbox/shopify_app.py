"""Shopify Admin REST sandbox: the orders endpoints as the real API serves them.

Reproduces what breaks real clients: the `status=open` default, cursor pagination through
the `Link` header with an opaque `page_info` that tolerates only `limit` and `fields`, the
250 page-size limit, the leaky-bucket rate limit with its call-limit header and float
`Retry-After`, and schema drift. The `webhooks.json` resource subscribes the app to the
webhooks `shopify_webhooks` delivers. `/_sandbox/...` is the merchant's admin, for tests.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations_pipelines.sandbox.faults import FaultMiddleware, apply_field_drift
from integrations_pipelines.sandbox.shopify_orders import parse_time
from integrations_pipelines.sandbox.shopify_store import LeakyBucket, ShopifyStore
from integrations_pipelines.sandbox.shopify_versions import served_version
from integrations_pipelines.sandbox.shopify_webhooks import SubscriptionError

__all__ = ["LeakyBucket", "ShopifyStore", "build_shopify_app"]

MAX_LIMIT = 250
FILTER_PARAMS = ("status", "created_at_min", "created_at_max", "updated_at_min",
                 "updated_at_max", "ids", "since_id", "financial_status")
THROTTLED = ("Exceeded 2 calls per second for api client. Reduce request rates to resume "
             "uninterrupted service.")
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
VERSION = re.compile(r"^(\d{4}-\d{2}|unstable)$")


class ApiError(Exception):
    """An error answer in Shopify's `{"errors": ...}` envelope."""

    def __init__(self, status: int, errors: Any) -> None:
        super().__init__(errors)
        self.status = status
        self.errors = errors


def build_shopify_app(store: ShopifyStore) -> FaultMiddleware:
    """The Shopify sandbox as an ASGI app (fault layer around Starlette); `.store` is `store`."""

    def limit_header(used: int) -> dict[str, str]:
        return {"X-Shopify-Shop-Api-Call-Limit": f"{used}/{store.bucket.capacity}"}

    def throttled(retry_after: float) -> tuple[int, dict[str, str], bytes]:
        headers = {"Content-Type": "application/json", "Retry-After": _seconds(retry_after),
                   **limit_header(store.bucket.capacity)}
        return 429, headers, json.dumps({"errors": THROTTLED}).encode()

    async def api(request: Request, handler: Any, name: str) -> Response:
        store.stats[f"requests:{name}"] += 1
        if (request.headers.get("x-shopify-access-token") != store.access_token
                or store.faults.credentials_revoked()):
            store.stats["unauthorized"] += 1
            return JSONResponse({"errors": INVALID_TOKEN}, status_code=401)
        if not VERSION.match(request.path_params["version"]):
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        allowed, used, wait = store.bucket.acquire()
        if not allowed:
            store.stats["throttled"] += 1
            status, headers, body = throttled(wait)
            return Response(body, status_code=status, headers=headers)
        try:
            payload, extra, *rest = handler(request)
            status = rest[0] if rest else 200
        except ApiError as error:
            payload, extra, status = {"errors": error.errors}, {}, error.status
        version = {"X-Shopify-API-Version": served_version(request.path_params["version"],
                                                           store.now().date())}
        reason = store.faults.drift().get("deprecated_reason")
        if reason:
            version["X-Shopify-API-Deprecated-Reason"] = str(reason)
        return JSONResponse(payload, status_code=status,
                            headers={**limit_header(used), **version, **extra,
                                     "X-Request-Id": uuid.uuid4().hex})

    def list_orders(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        params = request.query_params
        limit = _limit(params.get("limit"))
        cap = store.faults.drift().get("page_size_cap")
        if cap:
            limit = min(limit, int(cap))
        if "page_info" in params:
            extra = sorted(set(params) - {"page_info", "limit", "fields"})
            if extra:
                raise ApiError(400, {"page_info": [
                    f"Cannot use parameter(s) {', '.join(extra)} with page_info; only limit "
                    "and fields may be given with page_info."]})
            cursor = _decode(params["page_info"])
            filters = cursor["filters"]
        else:
            filters, cursor = _filters(params), {"direction": "next", "anchor": None}
        matching = store.select(filters)
        if cursor["direction"] == "next":
            after = [o for o in matching if cursor["anchor"] is None or o["id"] > cursor["anchor"]]
            page = after[:limit]
        else:
            page = [o for o in matching if o["id"] < cursor["anchor"]][-limit:]
        links = []
        base = f"{str(request.base_url).rstrip('/')}{request.url.path}"
        fields = params.get("fields")
        if page and any(o["id"] < page[0]["id"] for o in matching):
            links.append(_link(base, limit, fields, filters, "previous", page[0]["id"]))
        if page and any(o["id"] > page[-1]["id"] for o in matching):
            links.append(_link(base, limit, fields, filters, "next", page[-1]["id"]))
        headers = {"Link": ", ".join(links)} if links else {}
        return {"orders": [_present(o, fields, store) for o in page]}, headers

    def count_orders(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        return {"count": len(store.select(_filters(request.query_params)))}, {}

    def get_order(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        order = store.get_order(request.path_params["order_id"])
        if order is None:
            raise ApiError(404, "Not Found")
        return {"order": _present(order, request.query_params.get("fields"), store)}, {}

    async def orders_ep(request: Request) -> Response:
        return await api(request, list_orders, "orders")

    async def count_ep(request: Request) -> Response:
        return await api(request, count_orders, "orders_count")

    async def order_ep(request: Request) -> Response:
        return await api(request, get_order, "order")

    def create_webhook(request: Request, raw: bytes) -> tuple[dict[str, Any], dict[str, str], int]:
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise ApiError(400, "Bad Request") from None
        given = body.get("webhook") if isinstance(body, dict) else None
        if not isinstance(given, dict):
            raise ApiError(400, {"webhook": "Required parameter missing or invalid"})
        version = served_version(request.path_params["version"], store.now().date())
        try:
            made = store.webhooks.subscribe(given.get("topic"), given.get("address"), version,
                                            given.get("format", "json"))
        except SubscriptionError as error:
            raise ApiError(422, error.errors) from None
        return {"webhook": made}, {}, 201

    def list_webhooks(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        params = request.query_params
        found = store.webhooks.subscriptions(params.get("topic"), params.get("address"))
        since = params.get("since_id")
        if since is not None:
            found = [w for w in found if w["id"] > int(since)] if since.isdigit() else []
        return {"webhooks": found[:_limit(params.get("limit"))]}, {}

    def count_webhooks(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        params = request.query_params
        return {"count": len(store.webhooks.subscriptions(params.get("topic"),
                                                          params.get("address")))}, {}

    def one_webhook(request: Request) -> tuple[dict[str, Any], dict[str, str]]:
        ident = request.path_params["webhook_id"]
        if request.method == "DELETE":
            if not store.webhooks.unsubscribe(ident):
                raise ApiError(404, "Not Found")
            return {}, {}
        found = store.webhooks.subscription(ident)
        if found is None:
            raise ApiError(404, "Not Found")
        return {"webhook": found}, {}

    async def webhooks_ep(request: Request) -> Response:
        if request.method == "POST":
            raw = await request.body()
            return await api(request, lambda r: create_webhook(r, raw), "webhooks_create")
        return await api(request, list_webhooks, "webhooks")

    async def webhooks_count_ep(request: Request) -> Response:
        return await api(request, count_webhooks, "webhooks_count")

    async def webhook_ep(request: Request) -> Response:
        return await api(request, one_webhook, f"webhook_{request.method.lower()}")

    routes = [
        Route("/admin/api/{version}/orders.json", orders_ep),
        Route("/admin/api/{version}/orders/count.json", count_ep),
        Route("/admin/api/{version}/orders/{order_id:int}.json", order_ep),
        Route("/admin/api/{version}/webhooks.json", webhooks_ep, methods=["GET", "POST"]),
        Route("/admin/api/{version}/webhooks/count.json", webhooks_count_ep),
        Route("/admin/api/{version}/webhooks/{webhook_id:int}.json", webhook_ep,
              methods=["GET", "DELETE"]),
        *_admin_routes(store),
    ]

    def server_error(status: int) -> tuple[int, dict[str, str], bytes]:
        body = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Unavailable Shop"}
        return status, {"Content-Type": "application/json"}, json.dumps(
            {"errors": body.get(status, "Error")}).encode()

    app = FaultMiddleware(Starlette(routes=routes), store.faults, server_error,
                          lambda: throttled(2.0))
    app.store = store
    return app


def _seconds(value: float) -> str:
    """Retry-After as Shopify sends it: float seconds such as "2.0"."""
    return f"{max(math.ceil(value * 10) / 10, 0.1):.1f}"


def _limit(raw: str | None) -> int:
    if raw is None:
        return 50
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, {"limit": ["must be an integer"]}) from None
    if value < 1 or value > MAX_LIMIT:
        raise ApiError(400, {"limit": [f"must be between 1 and {MAX_LIMIT}"]})
    return value


def _filters(params: Any) -> dict[str, Any]:
    filters: dict[str, Any] = {"status": params.get("status", "open")}
    if filters["status"] not in ("open", "closed", "cancelled", "any"):
        raise ApiError(400, {"status": ["is not a valid status"]})
    for key in FILTER_PARAMS[1:5]:
        if key in params:
            try:
                parse_time(params[key])
            except ValueError:
                raise ApiError(400, {key: ["is not a valid date-time"]}) from None
            filters[key] = params[key]
    if "ids" in params:
        try:
            filters["ids"] = [int(x) for x in params["ids"].split(",") if x.strip()]
        except ValueError:
            raise ApiError(400, {"ids": ["must be integers"]}) from None
    for key in ("since_id", "financial_status"):
        if key in params:
            filters[key] = params[key]
    return filters


def _link(base: str, limit: int, fields: str | None, filters: dict[str, Any], rel: str,
          anchor: int) -> str:
    token = _encode({"filters": filters, "direction": "next" if rel == "next" else "previous",
                     "anchor": anchor})
    query = {"limit": limit, **({"fields": fields} if fields else {}), "page_info": token}
    return f'<{base}?{urlencode(query)}>; rel="{rel}"'


def _encode(cursor: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(cursor).encode()).decode().rstrip("=")


def _decode(token: str) -> dict[str, Any]:
    try:
        cursor: dict[str, Any] = json.loads(
            base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        if cursor["direction"] not in ("next", "previous") or "filters" not in cursor:
            raise ValueError(token)
        return cursor
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise ApiError(400, {"page_info": ["Invalid value."]}) from None


def _present(order: dict[str, Any], fields: str | None, store: ShopifyStore) -> dict[str, Any]:
    """Apply schema drift and the `fields` selection to one outgoing order."""
    drift = store.faults.drift()
    if drift.get("total_price_as_object") and "total_price" in order:
        order["total_price"] = {"amount": order["total_price"], "currency_code": order["currency"]}
    apply_field_drift(order, drift)
    if fields:
        wanted = {f.strip() for f in fields.split(",")}
        order = {k: v for k, v in order.items() if k in wanted}
    return order


def _admin_routes(store: ShopifyStore) -> list[Route]:
    """The merchant's admin: edit orders, inject faults, reset, read counters."""

    def missing(order_id: int) -> JSONResponse:
        return JSONResponse({"errors": f"order {order_id} not found"}, status_code=404)

    async def orders(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse({"orders": store.list_orders()})
        body = await request.json()
        items = body.get("orders", []) if isinstance(body, dict) else body
        return JSONResponse({"upserted": store.upsert_orders(items)})

    async def refund(request: Request) -> Response:
        order_id, body = request.path_params["order_id"], await request.json()
        try:
            made = store.refund_order(order_id, body["amount"], body.get("note"), body.get("at"))
        except KeyError:
            return missing(order_id)
        return JSONResponse({"refund": made, "order": store.get_order(order_id)})

    async def cancel(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        body = await request.json() if await request.body() else {}
        try:
            order = store.cancel_order(order_id, body.get("reason"), body.get("at"))
        except KeyError:
            return missing(order_id)
        return JSONResponse({"order": order})

    async def one(request: Request) -> Response:
        order_id = request.path_params["order_id"]
        if request.method == "DELETE":
            return JSONResponse({"deleted": store.delete_order(order_id)})
        if request.method == "GET":
            order = store.get_order(order_id)
            return JSONResponse({"order": order}) if order else missing(order_id)
        body = await request.json()
        try:
            order = store.patch_order(order_id, body, body.pop("_at", None))
        except KeyError:
            return missing(order_id)
        return JSONResponse({"order": order})

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                store.faults.update(await request.json())
            except ValueError as error:
                return JSONResponse({"errors": str(error)}, status_code=400)
        return JSONResponse(store.faults.snapshot())

    async def reset(request: Request) -> Response:
        store.reset()
        return JSONResponse({"reset": True})

    async def stats(request: Request) -> Response:
        return JSONResponse({**store.stats, "bucket_used": store.bucket.used(),
                             "faults_injected": dict(store.faults.injected)})

    async def deliveries(request: Request) -> Response:
        return JSONResponse({"deliveries": store.webhooks.deliveries()})

    return [
        Route("/_sandbox/orders", orders, methods=["GET", "POST"]),
        Route("/_sandbox/orders/{order_id:int}/refund", refund, methods=["POST"]),
        Route("/_sandbox/orders/{order_id:int}/cancel", cancel, methods=["POST"]),
        Route("/_sandbox/orders/{order_id:int}", one, methods=["GET", "PATCH", "DELETE"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/webhooks/deliveries", deliveries, methods=["GET"]),
    ]
