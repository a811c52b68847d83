"""Serve a sandbox app over real HTTP on loopback, in a background thread.

Tests and the dev environment talk to the sandboxes through real sockets, exactly as the
project's clients talk to the vendors, so every timeout, header and dropped connection is
the real thing.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from types import TracebackType
from typing import Any

import uvicorn

from integrations_pipelines.sandbox.faults import Faults, FaultSettings
from integrations_pipelines.sandbox.quickbooks_app import QuickBooksStore, build_quickbooks_app
from integrations_pipelines.sandbox.shopify_app import ShopifyStore, build_shopify_app

__all__ = ["FaultsArg", "SandboxServer", "start_quickbooks", "start_shopify"]

FaultsArg = Faults | FaultSettings | dict[str, Any] | None


class SandboxServer:
    """One ASGI app served by uvicorn on `host`, port 0 meaning any free port."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. "http://127.0.0.1:54321"."""
        if self._server is None:
            raise RuntimeError("server not started")
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> SandboxServer:
        """Start serving and wait until the socket accepts connections (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return self
        config = uvicorn.Config(
            self.app, host=self.host, port=self.port, log_level="warning", lifespan="off",
            http="h11", loop="asyncio", access_log=False, timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="sandbox-server",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("sandbox server failed to start")
            time.sleep(0.01)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for its thread; the app's store (if it has one) is
        closed too, which stops its webhook sender: a stopped vendor sends nothing."""
        close = getattr(getattr(self.app, "store", None), "close", None)
        if callable(close):
            close()
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_shopify(
    orders: Iterable[dict[str, Any]] = (),
    access_token: str = "shpat_sandbox_token",
    faults: FaultsArg = None,
    port: int = 0,
    **store_kwargs: Any,
) -> tuple[SandboxServer, ShopifyStore]:
    """Start a Shopify sandbox holding `orders`; returns (server, store)."""
    store = ShopifyStore(orders, access_token=access_token, faults=faults, **store_kwargs)
    return SandboxServer(build_shopify_app(store), port=port).start(), store


def start_quickbooks(
    realm_id: str = "9130357766900000",
    client_id: str = "sandbox-client-id",
    client_secret: str = "sandbox-client-secret",
    refresh_token: str = "sandbox-refresh-token-0",
    faults: FaultsArg = None,
    port: int = 0,
    **store_kwargs: Any,
) -> tuple[SandboxServer, QuickBooksStore]:
    """Start a QuickBooks Online sandbox for one company; returns (server, store)."""
    store = QuickBooksStore(realm_id=realm_id, client_id=client_id, client_secret=client_secret,
                            refresh_token=refresh_token, faults=faults, **store_kwargs)
    return SandboxServer(build_quickbooks_app(store), port=port).start(), store
