"""The OAuth2 token manager against the QuickBooks sandbox's token endpoint: refresh before
expiry (not after a 401), the rotated refresh token persisted, and two processes refreshing
at the same moment spending the refresh token once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from integrations_pipelines.state.tables import oauth_tokens
from integrations_pipelines.vendors.errors import RetriesExhaustedError
from integrations_pipelines.vendors.quickbooks.client import connect
from integrations_pipelines_tests.support import sandbox_quickbooks_settings

REFRESH_AT = """
import json, sys, time
from integrations_pipelines.settings import QuickBooksSettings
from integrations_pipelines.state.db import engine_for
from integrations_pipelines.vendors.quickbooks.client import connect
url, settings, start_at = sys.argv[1], json.loads(sys.argv[2]), float(sys.argv[3])
client = connect(QuickBooksSettings(**settings), engine_for(url))
time.sleep(max(0.0, start_at - time.time()))
print(json.dumps(client.tokens.access_token()))
"""


def _expire_stored_access_token(engine: sa.Engine, in_: timedelta) -> None:
    with engine.begin() as conn:
        conn.execute(oauth_tokens.update().values(access_expires_at=datetime.now(UTC) + in_))


def test_access_token_is_refreshed_before_it_expires_and_rotation_is_kept(
        engine, qbo_sandbox) -> None:
    server, books = qbo_sandbox
    bootstrap = books.tokens.current_refresh_token
    client = connect(sandbox_quickbooks_settings(server, books), engine)
    first = client.tokens.access_token()
    assert client.tokens.access_token() == first  # fresh: no second refresh
    assert books.stats["requests:token"] == 1

    _expire_stored_access_token(engine, timedelta(minutes=2))  # inside the 5-minute margin
    client.find_customers("DisplayName = 'nobody'")
    assert books.stats["requests:token"] == 2 and books.stats["unauthorized"] == 0
    with engine.connect() as conn:
        row = conn.execute(sa.select(oauth_tokens)).one()
    assert row.access_token != first
    assert row.refresh_token == books.tokens.current_refresh_token != bootstrap
    assert row.refresh_expires_at > datetime.now(UTC) + timedelta(days=90)
    assert row.last_refreshed_at is not None and row.consecutive_failures == 0


@pytest.mark.slow  # spawns processes
def test_two_processes_refreshing_at_once_spend_the_refresh_token_once(
        engine, database_url, qbo_sandbox) -> None:
    """The token endpoint is slow (1.5 s) and both processes ask at the same instant: the
    second waits on the row lock, then takes the first one's token. Without the lock the
    second would present the already-rotated refresh token and get `invalid_grant`."""
    server, books = qbo_sandbox
    settings = sandbox_quickbooks_settings(server, books)
    connect(settings, engine).tokens.access_token()
    _expire_stored_access_token(engine, timedelta(seconds=-1))
    refreshes_before = books.stats["requests:token"]
    books.faults.update({"latency_ms": 1500})
    start_at = time.time() + 4
    procs = [subprocess.Popen([sys.executable, "-c", REFRESH_AT, database_url,
                               json.dumps(settings.__dict__), str(start_at)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-2000:] for _, err in outputs]
    tokens = {json.loads(out) for out, _ in outputs}
    assert len(tokens) == 1
    assert books.stats["requests:token"] == refreshes_before + 1
    with engine.connect() as conn:
        row = conn.execute(sa.select(oauth_tokens)).one()
    assert not row.revoked and row.refresh_token == books.tokens.current_refresh_token


def test_a_failing_token_endpoint_counts_failures_in_a_row_without_revoking(
        engine, qbo_sandbox) -> None:
    """Token health sees a refresh that keeps failing (here: the token endpoint is down
    through every retry) before any run has to: failures in a row, the last error, and
    not revoked, since the grant itself was never refused. A success clears the count."""
    server, books = qbo_sandbox
    settings = sandbox_quickbooks_settings(server, books)
    books.faults.update({"error_rate_5xx": 1.0})
    for attempt in (1, 2):
        client = connect(settings, engine, max_attempts=2, max_elapsed_s=5)
        with pytest.raises(RetriesExhaustedError, match=r"oauth\.refresh"):
            client.tokens.access_token()
        health = client.tokens.health()
        assert health.consecutive_failures == attempt and not health.revoked
        assert health.last_error.startswith("HTTP 5")
    books.faults.reset()
    client = connect(settings, engine)
    client.tokens.access_token()
    assert client.tokens.health().consecutive_failures == 0
