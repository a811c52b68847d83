"""Fault injection shared by the vendor sandboxes.

Real integrations fail on slow vendors, 5xx bursts, 429 storms, dropped connections,
writes whose answer never arrives, dying credentials and a changing schema. These knobs let
the demo and the tests reproduce each of those failures on demand, per sandbox instance (no
globals), from any thread: at start (`faults=` of `start_shopify` / `start_quickbooks`) and
at run time (`store.faults.update(...)` or `POST /_sandbox/faults`).

Knobs (`FaultSettings`):
- `error_rate_5xx`, `connection_reset_rate`: seeded share of requests answered 5xx / dropped;
- `latency_ms`: added to every request; `rate_limit_storm`: the next N requests get 429;
- `drop_response_after_write`: a committed write's answer is lost (connection dropped);
- `hang_after_write_seconds`: a committed write is answered that late (a crash point:
  tests kill the syncing process while it waits, before it commits its ledger);
- `credentials_revoked`: the user disconnected the app: every API call answers 401, and
  QuickBooks' token endpoint `invalid_grant` (revoked tokens stay dead when the knob is
  turned off again: re-issue tokens through `/_sandbox/tokens/issue`);
- `expire_access_token_every`: every N-th API call finds the access token expired early
  (QuickBooks; Shopify's offline tokens do not expire);
- `schema_drift`: vendor-specific changes of the answers' shape. Shopify orders:
  `total_price_as_object`, `drop_field` (comma-separated field paths), `add_fields`
  ({path: value}), `page_size_cap`. QuickBooks invoices: `amounts_as_strings`, `drop_field`,
  `add_fields`, `page_size_cap`. Paths are dotted, `[]` meaning every element of a list
  (`line_items[].tax_lines`).
- webhooks (deliveries the sandboxes push to the app, see `shopify_webhooks` and
  `quickbooks_webhooks`): `webhook_drop_rate` (seeded share of deliveries never sent: "a
  webhook might stop firing", so the app must reconcile by polling), `webhook_duplicate_rate`
  (delivered twice, with the same `X-Shopify-Webhook-Id` / the same QuickBooks body),
  `webhook_reorder_rate` (Shopify: held back and sent after the next delivery),
  `webhooks_paused` (nothing is sent while true; what was queued goes out when it is turned
  off). Rolled when the delivery is queued, through the same seeded RNG, so a test that makes
  the same changes sees the same faults; each hit counts in `injected`.
"""

from __future__ import annotations

import asyncio
import copy
import random
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

__all__ = [
    "ADMIN_PREFIX", "ASGIApp", "FaultMiddleware", "FaultSettings", "Faults", "Message", "Receive",
    "Scope", "Send", "abort_connection", "apply_field_drift", "drop_path", "set_path",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ADMIN_PREFIX = "/_sandbox"


@dataclass
class FaultSettings:
    """The knobs, as plain data (what `GET /_sandbox/faults` shows)."""

    error_rate_5xx: float = 0.0
    latency_ms: int = 0
    rate_limit_storm: int = 0
    connection_reset_rate: float = 0.0
    drop_response_after_write: bool = False
    hang_after_write_seconds: float = 0.0
    schema_drift: dict[str, Any] = field(default_factory=dict)
    credentials_revoked: bool = False
    expire_access_token_every: int = 0
    webhook_drop_rate: float = 0.0
    webhook_duplicate_rate: float = 0.0
    webhook_reorder_rate: float = 0.0
    webhooks_paused: bool = False
    seed: int = 0


class Faults:
    """Thread-safe fault knobs plus a seeded RNG deciding which request is hit."""

    def __init__(self, settings: FaultSettings | dict[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()
        self._rng = random.Random(0)
        self.injected: dict[str, int] = {}
        self._authenticated_calls = 0
        if settings is not None:
            self.update(asdict(settings) if isinstance(settings, FaultSettings) else settings)

    def update(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `changes` into the knobs (JSON merge: `schema_drift` merges key by key)."""
        known = {f.name for f in fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault knobs: {sorted(unknown)}")
        with self._lock:
            for name, value in changes.items():
                if name == "schema_drift":
                    drift = dict(self._settings.schema_drift)
                    for key, sub in (value or {}).items():
                        if sub is None:
                            drift.pop(key, None)
                        else:
                            drift[key] = sub
                    self._settings.schema_drift = drift
                elif name == "seed":
                    self._settings.seed = int(value)
                    self._rng = random.Random(int(value))
                elif name in ("drop_response_after_write", "credentials_revoked",
                              "webhooks_paused"):
                    setattr(self._settings, name, bool(value))
                elif name in ("latency_ms", "rate_limit_storm", "expire_access_token_every"):
                    setattr(self._settings, name, int(value or 0))
                else:
                    setattr(self._settings, name, float(value or 0.0))
            return asdict(self._settings)

    def reset(self) -> None:
        """Turn every fault off."""
        with self._lock:
            self._settings = FaultSettings()
            self._rng = random.Random(0)
            self.injected = {}
            self._authenticated_calls = 0

    def snapshot(self) -> dict[str, Any]:
        """The current knobs as a JSON-ready dict."""
        with self._lock:
            return asdict(self._settings)

    @property
    def settings(self) -> FaultSettings:
        """A copy of the current knobs."""
        with self._lock:
            return FaultSettings(**asdict(self._settings))

    def _count(self, name: str) -> None:
        self.injected[name] = self.injected.get(name, 0) + 1

    def take_storm(self) -> bool:
        """Consume one request of a 429 storm; True if this request must get a 429."""
        with self._lock:
            if self._settings.rate_limit_storm > 0:
                self._settings.rate_limit_storm -= 1
                self._count("rate_limit_storm")
                return True
            return False

    def roll_5xx(self) -> bool:
        """Decide (seeded) whether this request fails with a 5xx."""
        with self._lock:
            hit = self._settings.error_rate_5xx > 0 and (
                self._rng.random() < self._settings.error_rate_5xx
            )
            if hit:
                self._count("error_rate_5xx")
            return hit

    def roll_reset(self) -> bool:
        """Decide (seeded) whether this request's connection is dropped unanswered."""
        with self._lock:
            hit = self._settings.connection_reset_rate > 0 and (
                self._rng.random() < self._settings.connection_reset_rate
            )
            if hit:
                self._count("connection_reset")
            return hit

    def roll_webhook(self, knob: str) -> bool:
        """Decide (seeded) whether a webhook knob (`webhook_drop_rate`, ...) hits a delivery."""
        with self._lock:
            rate = float(getattr(self._settings, knob))
            hit = rate > 0 and self._rng.random() < rate
            if hit:
                self._count(knob.removesuffix("_rate"))
            return hit

    def webhooks_paused(self, count: bool = False) -> bool:
        """Is webhook sending paused? With `count`, a delivery queued now counts as held."""
        with self._lock:
            paused = self._settings.webhooks_paused
            if paused and count:
                self._count("webhooks_paused")
            return paused

    def pick(self, options: list[int]) -> int:
        """Seeded choice, e.g. of a 5xx status code."""
        with self._lock:
            return self._rng.choice(options)

    def credentials_revoked(self) -> bool:
        """Is the app disconnected (every credential rejected)?"""
        with self._lock:
            if self._settings.credentials_revoked:
                self._count("credentials_revoked")
            return self._settings.credentials_revoked

    def access_token_expires_now(self) -> bool:
        """Count one authenticated call; True on every N-th (`expire_access_token_every`)."""
        with self._lock:
            every = self._settings.expire_access_token_every
            if every <= 0:
                return False
            self._authenticated_calls += 1
            if self._authenticated_calls % every:
                return False
            self._count("access_token_expired")
            return True

    def drift(self) -> dict[str, Any]:
        """The active schema drift settings."""
        with self._lock:
            return dict(self._settings.schema_drift)

    def after_write(self, scope: Scope) -> float:
        """Called by a write handler once its write is committed.

        Marks the response to be dropped if `drop_response_after_write` is on, and returns
        how long the handler must hang before answering.
        """
        with self._lock:
            if self._settings.drop_response_after_write:
                scope.setdefault("sandbox", {})["drop_response"] = True
                self._count("drop_response_after_write")
            if self._settings.hang_after_write_seconds:
                self._count("hang_after_write")
            return self._settings.hang_after_write_seconds


def abort_connection(scope: Scope, send: Send) -> None:
    """Close the client's TCP connection without sending any response.

    Works with uvicorn's h11 and httptools protocols: the `send` uvicorn hands to the
    outermost ASGI app is bound to its request cycle, which owns the transport. The client
    then sees a transport error (httpx.RemoteProtocolError), exactly like a vendor whose
    load balancer resets the connection.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if cycle is None or transport is None:
        raise RuntimeError("cannot reach the server transport to drop the connection")
    transport.abort()
    cycle.disconnected = True
    cycle.response_complete = True
    cycle.keep_alive = False


class FaultMiddleware:
    """Outermost ASGI layer of a sandbox: applies the request-level faults.

    Admin paths (`/_sandbox/...`) are never faulted. The vendor-specific 5xx and 429
    answers come from the factories so each sandbox keeps its own error envelope.
    """

    def __init__(
        self,
        app: ASGIApp,
        faults: Faults,
        make_5xx: Callable[[int], tuple[int, dict[str, str], bytes]],
        make_429: Callable[[], tuple[int, dict[str, str], bytes]],
    ) -> None:
        self.app = app
        self.faults = faults
        self.make_5xx = make_5xx
        self.make_429 = make_429
        self.store: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        raw_send = send
        state: dict[str, Any] = {"drop_response": False}
        scope["sandbox"] = state
        settings = self.faults.settings
        if settings.latency_ms:
            await asyncio.sleep(settings.latency_ms / 1000)
        if self.faults.roll_reset():
            abort_connection(scope, raw_send)
            return
        if self.faults.take_storm():
            await _respond(raw_send, *self.make_429())
            return
        if self.faults.roll_5xx():
            await _respond(raw_send, *self.make_5xx(self.faults.pick([500, 502, 503])))
            return

        async def guarded_send(message: Message) -> None:
            if state.get("dropped"):
                return
            if message["type"] == "http.response.start" and state.get("drop_response"):
                state["dropped"] = True
                abort_connection(scope, raw_send)
                return
            await raw_send(message)

        await self.app(scope, receive, guarded_send)


async def _respond(send: Send, status: int, headers: dict[str, str], body: bytes) -> None:
    raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


def drop_path(document: Any, path: str) -> None:
    """Remove the field at a dotted path (`a.b`, `items[].c`) wherever it exists."""
    head, _, rest = path.partition(".")
    if not isinstance(document, dict):
        return
    if head.endswith("[]"):
        for item in document.get(head[:-2]) or []:
            drop_path(item, rest)
    elif rest:
        drop_path(document.get(head), rest)
    else:
        document.pop(head, None)


def set_path(document: Any, path: str, value: Any) -> None:
    """Set the field at a dotted path (`a.b`, `items[].c`) on every existing parent."""
    head, _, rest = path.partition(".")
    if not isinstance(document, dict):
        return
    if head.endswith("[]"):
        for item in document.get(head[:-2]) or []:
            set_path(item, rest, value)
    elif rest:
        set_path(document.get(head), rest, value)
    else:
        document[head] = copy.deepcopy(value)


def apply_field_drift(document: dict[str, Any], drift: dict[str, Any]) -> None:
    """The vendor-neutral part of `schema_drift`: `drop_field` and `add_fields`, in place."""
    for path in str(drift.get("drop_field") or "").split(","):
        if path.strip():
            drop_path(document, path.strip())
    for path, value in (drift.get("add_fields") or {}).items():
        set_path(document, path, value)
