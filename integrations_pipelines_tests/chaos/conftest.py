"""The chaos rig factory: sandboxes started with their faults, a fresh store and instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from integrations_pipelines.sandbox.server import start_quickbooks, start_shopify
from integrations_pipelines_tests.chaos.harness import FAST_QUICKBOOKS, Rig, shop


@pytest.fixture
def chaos_rig(database_url, engine, dagster_instance) -> Iterator[Callable[..., Rig]]:
    """Factory: `chaos_rig(seed, shopify_faults={...}, quickbooks_faults={...},
    quickbooks_settings={...})`: the faults are set when the sandboxes start."""
    servers = []

    def build(seed: int, *, orders: int = 24, shopify_faults: dict[str, Any] | None = None,
              quickbooks_faults: dict[str, Any] | None = None,
              quickbooks_settings: dict[str, Any] | None = None,
              retry: dict[str, dict[str, Any]] | None = None) -> Rig:
        day = shop(seed, orders)
        shop_server, shop_store = start_shopify(day, faults={"seed": seed,
                                                             **(shopify_faults or {})})
        qbo_server, books = start_quickbooks(faults={"seed": seed, **(quickbooks_faults or {})},
                                             **{**FAST_QUICKBOOKS, **(quickbooks_settings or {})})
        servers.extend([shop_server, qbo_server])
        return Rig(database_url, engine, dagster_instance, shop_server, shop_store, qbo_server,
                   books, day, dict(retry or {}))

    yield build
    for server in servers:
        server.stop()
