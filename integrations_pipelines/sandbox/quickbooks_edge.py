"""What Intuit's edge does to every QuickBooks API call before the company sees it.

Every answer carries an `intuit_tid` header (the id Intuit support asks for), and a realm
takes at most `max_concurrent` requests at once (Intuit publishes 10): one more is answered
429 at once, like the per-second and per-minute throttle. OAuth and the sandbox's own admin
paths are not counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from integrations_pipelines.sandbox.faults import ASGIApp, Message, Receive, Scope, Send

__all__ = ["IntuitEdge", "new_tid", "tid_headers"]

API_PREFIX = "/v3/company/"


def new_tid() -> str:
    """An intuit_tid like Intuit's (a dash-joined hex id)."""
    return "1-" + uuid.uuid4().hex[:8] + "-" + uuid.uuid4().hex[:24]


class IntuitEdge:
    """ASGI layer: `intuit_tid` on every answer, concurrency cap per realm on API calls."""

    def __init__(self, app: ASGIApp, max_concurrent: Callable[[], int],
                 throttled: Callable[[], tuple[int, dict[str, str], bytes]],
                 on_refused: Callable[[], None] = lambda: None) -> None:
        self.app = app
        self.max_concurrent = max_concurrent
        self.throttled = throttled
        self.on_refused = on_refused
        self.in_flight: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tid = new_tid().encode()

        async def tagged(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"intuit_tid", tid)]
            await send(message)

        path: str = scope["path"]
        if not path.startswith(API_PREFIX):
            await self.app(scope, receive, tagged)
            return
        realm = path[len(API_PREFIX):].split("/", 1)[0]
        if self.in_flight.get(realm, 0) >= self.max_concurrent():
            self.on_refused()
            status, headers, body = self.throttled()
            await tagged({"type": "http.response.start", "status": status,
                          "headers": [(k.lower().encode(), v.encode())
                                      for k, v in headers.items()]})
            await send({"type": "http.response.body", "body": body})
            return
        self.in_flight[realm] = self.in_flight.get(realm, 0) + 1
        try:
            await self.app(scope, receive, tagged)
        finally:
            self.in_flight[realm] -= 1


def tid_headers(headers: dict[str, str]) -> dict[str, str]:
    """Headers of an answer made outside the edge (fault injection), with an intuit_tid."""
    return {**headers, "intuit_tid": new_tid()}
