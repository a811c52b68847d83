"""The alerting tests' real parts: the fake Slack over HTTP, the vendor sandboxes, the project's
Definitions wired to them, and sensors evaluated as the daemon evaluates them."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

import dagster as dg
import httpx
import pytest
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import (
    InProcessTestWorkspaceLoadTarget,
    create_test_daemon_workspace_context,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext

from integrations_pipelines import local_postgres
from integrations_pipelines.defs.alerting import AlertingResource
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.slack_app import SlackStore
from integrations_pipelines.sandbox.stripe_account import generate_account
from integrations_pipelines.sandbox.stripe_app import start_stripe
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.settings import dagster_storage_url
from integrations_pipelines_tests.support import definitions_for, sandbox_resources

ROOT = Path(__file__).resolve().parents[2]
UI = "http://dagster.example:3000"
CHANNEL = "#finance-integrations"  # the catalog's channel of shopify_to_quickbooks


@pytest.fixture
def alerting(slack: tuple[SandboxServer, SlackStore]) -> AlertingResource:
    """Alerts to the fake Slack's Web API (chat.postMessage with the bot token)."""
    server, store = slack
    return AlertingResource(slack_bot_token=store.bot_token,
                            slack_api_base_url=store.api_url(server.url), ui_url=UI)


class Posted:
    """What the fake Slack received, read over HTTP as an outside observer would."""

    def __init__(self, server: SandboxServer) -> None:
        self.url = f"{server.url}/_sandbox/messages"

    def all(self) -> list[dict[str, Any]]:
        return httpx.get(self.url, timeout=5).raise_for_status().json()["messages"]

    def texts(self) -> list[str]:
        return [m["text"] for m in self.all()]


@pytest.fixture
def posted(slack: tuple[SandboxServer, SlackStore]) -> Posted:
    return Posted(slack[0])


@dataclass
class Daemon:
    """Ticks sensors the way the sensor daemon does: the sensor's own evaluation, its cursor
    kept from one tick to the next, and its asset events recorded on the instance."""

    defs: dg.Definitions
    instance: dg.DagsterInstance
    cursors: dict[str, str | None] = field(default_factory=dict)

    def tick(self, name: str) -> Any:
        repository = self.defs.get_repository_def()
        sensor = repository.get_sensor_def(name)
        resources = {key: resource for key, resource in
                     repository.get_top_level_resources().items()
                     if key in sensor.required_resource_keys}
        with dg.build_sensor_context(instance=self.instance, cursor=self.cursors.get(name),
                                     repository_def=repository,
                                     resources=resources) as context:
            data = sensor.evaluate_tick(context)
        self.cursors[name] = data.cursor
        for event in data.asset_events:
            self.instance.report_runless_asset_event(event)
        return data

    def arm(self, *names: str) -> None:
        """First ticks: each sensor starts watching from now on."""
        for name in names:
            self.tick(name)


@dataclass
class Sandboxes:
    """Both vendors' sandboxes and the Definitions pointing at them and at the fake Slack."""

    defs: dg.Definitions
    resources: dict[str, Any]
    shop_url: str
    shop: Any
    qbo_url: str
    books: Any
    # The variables a deployment sets to reach these sandboxes (what the daemons'
    # Definitions, `integrations_pipelines.definitions:defs`, read through `dg.EnvVar`).
    environment: dict[str, str]


@pytest.fixture
def sandboxes(database_url: str, shop_sandbox: Any, qbo_sandbox: Any,
              alerting: AlertingResource):
    """Factory: sandboxes holding the given orders (QuickBooks not throttled: these tests are
    not about throttling), and the project's Definitions wired to them. A test using it is
    marked slow (the root conftest.py)."""

    stripe_server, stripe = start_stripe(generate_account(seed=3, days=1, charges_per_day=5))
    xero_server, xero = start_xero()

    def start(orders: list[dict[str, Any]], **extra: Any) -> Sandboxes:
        shop_server, shop = shop_sandbox(orders)
        qbo_server, books = qbo_sandbox
        books.update_settings({"per_second": 1000, "per_minute": 100000})
        resources = sandbox_resources(database_url, shop_server.url, shop.access_token,
                                      qbo_server.url, books)
        resources = {**resources, "alerting": alerting, **extra}
        environment = {
            "DATABASE_URL": database_url, "SHOPIFY_BASE_URL": shop_server.url,
            "SHOPIFY_ACCESS_TOKEN": shop.access_token, "QBO_BASE_URL": qbo_server.url,
            "QBO_TOKEN_URL": f"{qbo_server.url}/oauth2/v1/tokens/bearer",
            "QBO_CLIENT_ID": books.tokens.client_id,
            "QBO_CLIENT_SECRET": books.tokens.client_secret, "QBO_REALM_ID": books.realm_id,
            "QBO_REFRESH_TOKEN": books.tokens.current_refresh_token,
            # The catalog's Stripe pair has a sensor: a deployment sets its account too.
            "STRIPE_BASE_URL": stripe_server.url, "STRIPE_API_KEY": stripe.api_key,
            # The Xero pair's books-changed sensor reads its organisation too.
            "XERO_BASE_URL": xero_server.url, "XERO_TOKEN_URL": f"{xero_server.url}/connect/token",
            "XERO_CLIENT_ID": xero.tokens.client_id,
            "XERO_CLIENT_SECRET": xero.tokens.client_secret,
            "XERO_TENANT_ID": xero.books.tenant_id,
            "XERO_REFRESH_TOKEN": xero.tokens.current_refresh_token,
        }
        return Sandboxes(definitions_for(resources), resources, shop_server.url, shop,
                         qbo_server.url, books, environment)

    yield start
    stripe_server.stop()
    xero_server.stop()


@pytest.fixture
def queued_instance(pg_base_url: str) -> Iterator[dg.DagsterInstance]:
    """A Dagster instance on PostgreSQL whose runs queue (QueuedRunCoordinator, as in
    dagster.yaml): the scheduler creates the runs of its ticks, nothing launches them."""
    name = f"dagster_{uuid.uuid4().hex[:12]}"
    url = local_postgres.ensure_database(pg_base_url, name)
    overrides = {
        "storage": {"postgres": {"postgres_url": dagster_storage_url(url)}},
        "run_coordinator": {"module": "dagster._core.run_coordinator",
                            "class": "QueuedRunCoordinator"},
    }
    with dg.instance_for_test(overrides=overrides) as instance:
        yield instance
    local_postgres.drop_database(pg_base_url, name)


@contextmanager
def daemon_workspace(instance: dg.DagsterInstance, environment: Mapping[str, str],
                     ) -> Iterator[WorkspaceProcessContext]:
    """The project's code location (`integrations_pipelines.definitions:defs`) loaded in this
    process, as the daemons see it (for Dagster's own scheduler and freshness daemon), in a
    deployment's `environment` (its resources are `dg.EnvVar`s, resolved when used)."""
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(module_name="integrations_pipelines.definitions",
                             attribute="defs", working_directory=str(ROOT)),
        location_name="integrations_pipelines")
    with mock.patch.dict(os.environ, environment), create_test_daemon_workspace_context(
            InProcessTestWorkspaceLoadTarget(origin), instance) as context:
        yield context
