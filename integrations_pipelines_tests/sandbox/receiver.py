"""A tiny real webhook endpoint for the sandbox webhook tests: it records every request it is
sent (raw body and headers) and can be told to answer 500 to the first K, the way an app's
receiver fails during a deploy."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from integrations_pipelines.sandbox.server import SandboxServer


@dataclass
class Received:
    """One request as it arrived: the raw bytes the signature covers, and the headers."""

    body: bytes
    headers: dict[str, str]
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """Records deliveries; `fail_first` makes the next K requests answer 500."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.fail_first = 0
        self._lock = threading.Lock()

    async def endpoint(self, request: Request) -> PlainTextResponse:
        body = await request.body()
        with self._lock:
            status = 500 if self.fail_first > 0 else 200
            self.fail_first = max(self.fail_first - 1, 0)
            self.requests.append(Received(body, dict(request.headers), status))
        return PlainTextResponse("ok" if status == 200 else "boom", status_code=status)

    def accepted(self) -> list[Received]:
        """The requests answered 200, in arrival order."""
        with self._lock:
            return [r for r in self.requests if r.status == 200]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Wait until `count` requests were answered 200 (or the timeout passes)."""
        deadline = time.monotonic() + timeout
        while len(self.accepted()) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.accepted()


@contextmanager
def serve_receiver(path: str = "/hooks") -> Iterator[tuple[str, Receiver]]:
    """Serve a Receiver over real HTTP on loopback; yields (endpoint URL, receiver)."""
    receiver = Receiver()
    app = Starlette(routes=[Route(path, receiver.endpoint, methods=["POST"])])
    with SandboxServer(app) as server:
        yield f"{server.url}{path}", receiver
