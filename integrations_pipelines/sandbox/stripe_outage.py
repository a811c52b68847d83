"""A vendor outage, time-compressed: Stripe answers 5xx or nothing for a stretch of time.

The seeds' story: on Black Friday the Stripe -> analytics integration failed for 90
minutes. `Outage` reproduces it on the sandbox: from `start()` on, for `minutes` vendor
minutes (`seconds_per_minute` real seconds each, so a test compresses 90 minutes into a few
seconds), every API request is answered 500/502/503 with Stripe's `api_error` envelope or,
for a seeded `timeout_share` of them, held for `hang_s` seconds (longer than the client's
read timeout) and then answered 504. What it did is counted (`stats`), so a test can compare
it with what the run reports.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from integrations_pipelines.sandbox.faults import ADMIN_PREFIX, ASGIApp, Receive, Scope, Send

__all__ = ["Outage", "OutageMiddleware", "OutageSettings"]


@dataclass
class OutageSettings:
    minutes: float = 90.0
    seconds_per_minute: float = 60.0
    timeout_share: float = 0.2
    hang_s: float = 2.0
    seed: int = 0


class Outage:
    """When the outage runs, and what it did (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.settings = OutageSettings()
        self._started: float | None = None
        self._rng = random.Random(0)
        self.stats = {"server_errors": 0, "timeouts": 0}
        self._armed_after: int | None = None
        self._seen = 0

    def arm(self, after_requests: int, **settings: Any) -> None:
        """Start the outage when the `after_requests`-th API request from now arrives (the
        middle of a run, wherever its pages are)."""
        with self._lock:
            self.settings = OutageSettings(**{**asdict(self.settings), **settings})
            self._armed_after, self._seen = after_requests, 0

    def start(self, **settings: Any) -> dict[str, Any]:
        """Begin an outage now (`minutes`, `seconds_per_minute`, `timeout_share`, `hang_s`)."""
        with self._lock:
            self.settings = OutageSettings(**{**asdict(self.settings), **settings})
            self._rng = random.Random(self.settings.seed)
            self._started = time.monotonic()
            self.stats = {"server_errors": 0, "timeouts": 0}
            return self.snapshot_locked()

    def stop(self) -> None:
        with self._lock:
            self._started = None

    @property
    def duration_s(self) -> float:
        return self.settings.minutes * self.settings.seconds_per_minute

    def active(self) -> bool:
        with self._lock:
            return self._active_locked()

    def _active_locked(self) -> bool:
        return self._started is not None and (
            time.monotonic() - self._started) < self.duration_s

    def roll(self) -> str | None:
        """None outside an outage; else `timeout` or `server_error` for this request."""
        with self._lock:
            self._seen += 1
            if self._armed_after is not None and self._seen >= self._armed_after:
                self._armed_after = None
                self._rng = random.Random(self.settings.seed)
                self._started = time.monotonic()
                self.stats = {"server_errors": 0, "timeouts": 0}
            if not self._active_locked():
                return None
            hit = "timeout" if self._rng.random() < self.settings.timeout_share \
                else "server_error"
            self.stats[f"{hit}s"] += 1
            return hit

    def pick(self) -> int:
        with self._lock:
            return self._rng.choice((500, 502, 503))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return self.snapshot_locked()

    def snapshot_locked(self) -> dict[str, Any]:
        return {**asdict(self.settings), "active": self._active_locked(),
                "real_seconds": self.duration_s, **self.stats}


class OutageMiddleware:
    """Outermost layer of the Stripe sandbox: the outage, before anything else answers."""

    def __init__(self, app: ASGIApp, outage: Outage) -> None:
        self.app = app
        self.outage = outage
        self.store: Any = getattr(app, "store", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        hit = self.outage.roll()
        if hit is None:
            await self.app(scope, receive, send)
            return
        status = 504 if hit == "timeout" else self.outage.pick()
        if hit == "timeout":
            await asyncio.sleep(self.outage.settings.hang_s)
        body = json.dumps({"error": {"type": "api_error", "message": "An unknown error "
                                     "occurred: please retry."}}).encode()
        headers = [(b"content-type", b"application/json"),
                   (b"request-id", f"req_{uuid.uuid4().hex[:14]}".encode()),
                   (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
