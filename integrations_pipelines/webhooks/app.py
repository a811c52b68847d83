"""The webhook receiver: verified, durable, and quick to answer.

One route per vendor and connection (`/webhooks/shopify/<connection>`,
`/webhooks/quickbooks/<connection>`, `/webhooks/stripe/<connection>`: Stripe's event, its
`Stripe-Signature` checked within 300 s, the event id its delivery id;
`/webhooks/xero/<connection>`: `x-xero-signature` with XERO_WEBHOOK_KEYS, Xero's "intent to
receive" answered 200 or 401, the events kept pending for the Xero pair's books-changed
sensor).
Every delivery goes through the same gate, in this order, and changes nothing unless it
passes:

1. a body over `max_body` bytes: 413 (read no further);
2. a content type other than JSON: 415;
3. the signature, over the raw body, with every secret currently valid (two during a
   rotation), compared in constant time: 401 when missing or wrong;
4. signed, but without the headers that name the delivery: 400;
5. signed, but not JSON: 400, and the delivery is kept in the inbox as `malformed` (the
   vendor signed it: someone must look at it);
6. an unknown topic: 200, recorded as `ignored`, never processed;
7. otherwise the delivery is committed to the inbox (`webhooks/inbox.py`, group commit) and
   only then answered 200; a redelivery (same delivery id) is answered 200 and adds no row.

The inbox is drained by a Dagster sensor and job (`defs/.../webhook_deliveries.py`); the
receiver itself never calls a vendor or writes anywhere but the inbox. Shopify waits 5 s for
an answer: the gate and one shared commit take milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import sqlalchemy as sa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations_pipelines.settings import WebhookSecrets
from integrations_pipelines.vendors.quickbooks import webhooks as quickbooks_webhooks
from integrations_pipelines.vendors.shopify import webhooks as shopify_webhooks
from integrations_pipelines.vendors.stripe import settings as stripe_settings
from integrations_pipelines.vendors.stripe import webhooks as stripe_webhooks
from integrations_pipelines.vendors.stripe.records import resource_of
from integrations_pipelines.vendors.xero import webhooks as xero_webhooks
from integrations_pipelines.webhooks.inbox import (
    IGNORED,
    MALFORMED,
    PENDING,
    Delivery,
    GroupCommitter,
)

__all__ = ["MAX_BODY", "WebhookSecrets", "build_receiver"]

MAX_BODY = 1_000_000  # bytes; Shopify's largest order payloads are far below


class BodyTooLarge(Exception):
    """The delivery's body passed the size limit."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def build_receiver(engine: sa.Engine, secrets: Callable[[], WebhookSecrets], *,
                   max_body: int = MAX_BODY, committer: GroupCommitter | None = None,
                   stripe_secrets: Callable[[], Sequence[str]] = stripe_settings.webhook_secrets,
                   xero_keys: Callable[[], Sequence[str]] = xero_webhooks.webhook_keys,
                   ) -> Starlette:
    """The receiver app over the integration store. `secrets` (and `stripe_secrets`) are
    read per delivery, so a rotation needs no restart."""
    inbox = committer or GroupCommitter(engine)

    async def gate(request: Request, verify: Callable[[bytes, Sequence[str]], bool],
                   keys: Sequence[str]) -> bytes | JSONResponse:
        try:
            body = await _body(request, max_body)
        except BodyTooLarge:
            return _error(413, f"body over {max_body} bytes")
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind != "application/json":
            return _error(415, "content type must be application/json")
        if not verify(body, keys):
            return _error(401, "missing or invalid signature")
        return body

    async def keep(delivery: Delivery) -> JSONResponse:
        """Commit, then answer: only a durable delivery is acknowledged."""
        try:
            new = await inbox.commit(delivery)
        except Exception:  # not durable: the vendor must deliver again
            return _error(503, "the inbox could not be written; deliver again")
        if not new:
            return JSONResponse({"ok": True, "duplicate": True})
        if delivery.status == MALFORMED:
            return _error(400, "the body is not JSON; kept in the inbox as malformed")
        return JSONResponse({"ok": True, "status": delivery.status})

    async def shopify(request: Request) -> JSONResponse:
        body = await gate(request, lambda b, k: shopify_webhooks.verify(b, request.headers, k),
                          secrets().shopify)
        if isinstance(body, JSONResponse):
            return body
        headers = shopify_webhooks.delivery_headers(request.headers)
        if not headers.topic or not headers.delivery_id:
            return _error(400, "X-Shopify-Topic and X-Shopify-Webhook-Id are required")
        status = PENDING if headers.topic in shopify_webhooks.TOPICS else IGNORED
        record: tuple[str | None, datetime | None] = (None, None)
        try:
            record = shopify_webhooks.record_of(headers.topic, json.loads(body))
        except ValueError:
            status = MALFORMED
        delivery = Delivery(
            vendor="shopify", connection=request.path_params["connection"],
            topic=headers.topic, delivery_id=headers.delivery_id, event_id=headers.event_id,
            shop=headers.shop, triggered_at=headers.triggered_at,
            received_at=datetime.now(UTC), body=body.decode("utf-8", "replace"),
            status=status, record_id=record[0], record_version=record[1])
        return await keep(delivery)

    async def quickbooks(request: Request) -> JSONResponse:
        body = await gate(request,
                          lambda b, k: quickbooks_webhooks.verify(b, request.headers, k),
                          secrets().quickbooks)
        if isinstance(body, JSONResponse):
            return body
        try:
            document = json.loads(body)
            status = PENDING if quickbooks_webhooks.is_notification(document) else IGNORED
        except ValueError:
            status = MALFORMED
        delivery = Delivery(
            vendor="quickbooks", connection=request.path_params["connection"],
            topic=quickbooks_webhooks.TOPIC, delivery_id=quickbooks_webhooks.delivery_id(body),
            received_at=datetime.now(UTC), body=body.decode("utf-8", "replace"),
            status=status)
        return await keep(delivery)

    def stripe_signed(body: bytes, header: str | None, keys: Sequence[str]) -> bool:
        try:
            stripe_webhooks.verify(body, header, keys)
        except stripe_webhooks.SignatureError:
            return False
        return True

    async def stripe(request: Request) -> JSONResponse:
        header = request.headers.get("stripe-signature")
        body = await gate(request, lambda b, k: stripe_signed(b, header, k), stripe_secrets())
        if isinstance(body, JSONResponse):
            return body
        try:
            event = json.loads(body)
            obj = event["data"]["object"]
            ident, kind, created = str(event["id"]), str(event["type"]), int(event["created"])
        except (ValueError, KeyError, TypeError):
            return _error(400, "not a Stripe event (id, type, created, data.object)")
        delivery = Delivery(
            vendor="stripe", connection=request.path_params["connection"], topic=kind,
            delivery_id=ident, event_id=ident,
            triggered_at=datetime.fromtimestamp(created, UTC),
            received_at=datetime.now(UTC), body=body.decode("utf-8", "replace"),
            status=PENDING if isinstance(obj, dict) and resource_of(obj) else IGNORED,
            record_id=str(obj.get("id")) if isinstance(obj, dict) else None,
            record_version=datetime.fromtimestamp(created, UTC))
        return await keep(delivery)

    async def xero(request: Request) -> JSONResponse:
        """Xero's events, or its "intent to receive" check (a delivery without events: a
        valid signature gets 200, a wrong one 401, as Xero requires before it sends any).
        Events are kept `pending`: the Xero pair's books-changed sensor re-reads the named
        invoices and reconciles their days (`sync/xero_books_changes.py`)."""
        header = request.headers.get(xero_webhooks.SIGNATURE_HEADER)
        body = await gate(request, lambda b, k: xero_webhooks.verify(b, header, k), xero_keys())
        if isinstance(body, JSONResponse):
            return body
        try:
            document = json.loads(body)
            events = document["events"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "not a Xero delivery (events, firstEventSequence)")
        if not events:
            return JSONResponse({"ok": True, "intent_to_receive": True})
        delivery = Delivery(
            vendor="xero", connection=request.path_params["connection"],
            topic=xero_webhooks.TOPIC, delivery_id=xero_webhooks.delivery_id(document, body),
            received_at=datetime.now(UTC), body=body.decode("utf-8", "replace"),
            status=PENDING)
        return await keep(delivery)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "commits": inbox.batches,
                             "deliveries": inbox.committed})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await inbox.start()
        yield
        await inbox.stop()

    return Starlette(routes=[
        Route("/webhooks/shopify/{connection}", shopify, methods=["POST"]),
        Route("/webhooks/quickbooks/{connection}", quickbooks, methods=["POST"]),
        Route("/webhooks/stripe/{connection}", stripe, methods=["POST"]),
        Route("/webhooks/xero/{connection}", xero, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ], lifespan=lifespan)
