"""The fake Slack workspace over real HTTP and a controllable clock for the alerting tests.
(PostgreSQL comes from the shared conftest: `database_url`, `engine`.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.slack_app import SlackStore


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 7, 0, tzinfo=UTC))


@pytest.fixture
def posted(slack: tuple[SandboxServer, SlackStore]) -> Callable[[], list[dict[str, Any]]]:
    """Reads the messages the fake Slack received over HTTP, as an outside observer would."""
    server, _ = slack

    def read() -> list[dict[str, Any]]:
        response = httpx.get(f"{server.url}/_sandbox/messages", timeout=5)
        response.raise_for_status()
        return response.json()["messages"]

    return read
