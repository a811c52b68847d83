"""Real parts for every test: PostgreSQL (embedded unless TEST_DATABASE_URL names a server),
the vendor sandboxes served over HTTP on 127.0.0.1, and Dagster instances on PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from integrations_pipelines import local_postgres
from integrations_pipelines.settings import dagster_storage_url
from integrations_pipelines.state.db import engine_for, upgrade


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts the whole deployment (the `sandboxes` fixture of alerting/conftest:
    the project's Definitions on both sandboxes and Slack, ticked like the daemon) is slow,
    wherever it lives; other slow tests say so with `pytest.mark.slow`."""
    for item in items:
        if "sandboxes" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _machine_share(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite runs on pytest-xdist's workers (`-n` in pyproject), but a test marked `alone`
    measures what one machine can drive (the receiver's minute at 500 deliveries a second)
    and must not share the CPU with another test. A readers-writer lock across the workers:
    every test holds it shared, an `alone` test exclusively; the turnstile in front makes a
    waiting `alone` test go next instead of starving behind a stream of shared holders.
    Without xdist there is nothing to share with and the lock is not taken."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    folder = tmp_path_factory.getbasetemp().parent  # the same folder for every worker of a run
    turnstile, room = folder / "alone.turnstile", folder / "alone.lock"
    if request.node.get_closest_marker("alone"):
        with _flock(turnstile, fcntl.LOCK_EX), _flock(room, fcntl.LOCK_EX):
            yield
        return
    with _flock(turnstile, fcntl.LOCK_EX):
        pass
    with _flock(room, fcntl.LOCK_SH):
        yield


@pytest.fixture(scope="session")
def pg_base_url() -> Iterator[str]:
    """One PostgreSQL server for the session; each test gets its own databases."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield os.environ["TEST_DATABASE_URL"]
        return
    folder = Path(tempfile.mkdtemp(prefix="integrations-pipelines-test-"))
    server, base = local_postgres.start_embedded(folder / "pgdata")
    yield base
    server.cleanup()
    shutil.rmtree(folder, ignore_errors=True)  # the data folder: nothing stays behind a run


def _fresh_database(base: str, prefix: str) -> tuple[str, str]:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    return name, local_postgres.ensure_database(base, name)


@pytest.fixture
def database_url(pg_base_url: str) -> Iterator[str]:
    """A new, migrated integration store for one test."""
    name, url = _fresh_database(pg_base_url, "store")
    upgrade(url)
    yield url
    engine_for(url).dispose()
    local_postgres.drop_database(pg_base_url, name)


@pytest.fixture
def engine(database_url: str):
    return engine_for(database_url)


@pytest.fixture
def dagster_instance(pg_base_url: str) -> Iterator[object]:
    """A Dagster instance whose runs, events and schedules live in PostgreSQL."""
    from dagster import instance_for_test

    name, url = _fresh_database(pg_base_url, "dagster")
    storage = {"postgres": {"postgres_url": dagster_storage_url(url)}}
    with instance_for_test(overrides={"storage": storage}) as inst:
        yield inst
    local_postgres.drop_database(pg_base_url, name)


@pytest.fixture
def shop_sandbox():
    """Factory: a Shopify sandbox over HTTP holding the given orders (stopped after the test)."""
    from integrations_pipelines.sandbox.server import start_shopify

    started = []

    def start(orders, **kw):
        server, store = start_shopify(orders, **kw)
        started.append(server)
        return server, store

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def qbo_sandbox():
    """A QuickBooks Online sandbox over HTTP for one company."""
    from integrations_pipelines.sandbox.server import start_quickbooks

    server, store = start_quickbooks()
    yield server, store
    server.stop()


@pytest.fixture
def slack():
    """A server on loopback that answers like Slack's API (Web API and incoming webhooks)."""
    from integrations_pipelines.sandbox.slack_app import start_slack

    server, store = start_slack()
    with server:
        yield server, store
