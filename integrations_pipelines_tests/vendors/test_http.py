"""The one HTTP client against a loopback server that answers from a script: what is
retried and how long it waits, what is never retried, and what it counts per endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from integrations_pipelines.sandbox.faults import FaultMiddleware, Faults
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.vendors.errors import (
    AuthenticationError,
    PermanentVendorError,
    RetriesExhaustedError,
)
from integrations_pipelines.vendors.http import MIN_RETRY_WAIT_S, VendorHttpClient


class Script:
    """Per path, the answers still to give (status, headers); then 200."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, dict[str, str]]]] = {}
        self.seen: dict[str, int] = {}

    def app(self) -> Starlette:
        async def answer(request: Request) -> Response:
            path = request.path_params["name"]
            self.seen[path] = self.seen.get(path, 0) + 1
            queue = self.answers.get(path) or []
            status, headers = queue.pop(0) if queue else (200, {})
            return JSONResponse({"path": path, "status": status}, status_code=status,
                                headers=headers)

        return Starlette(routes=[Route("/{name}", answer, methods=["GET", "POST"])])


@pytest.fixture
def scripted() -> Iterator[tuple[Script, SandboxServer]]:
    script = Script()
    server = SandboxServer(script.app()).start()
    yield script, server
    server.stop()


def client(server: SandboxServer, slept: list[float], **kw) -> VendorHttpClient:
    return VendorHttpClient("acme", server.url, sleep=slept.append, **kw)


def test_retry_after_zero_and_seconds_are_honoured_without_a_tight_loop(scripted) -> None:
    script, server = scripted
    script.answers["busy"] = [(429, {"Retry-After": "0"}), (429, {"Retry-After": "2.0"})]
    slept: list[float] = []
    with client(server, slept) as http:
        assert http.request("GET", "/busy", endpoint="busy").status_code == 200
    assert script.seen["busy"] == 3
    assert MIN_RETRY_WAIT_S <= slept[0] < MIN_RETRY_WAIT_S + 0.2  # "0" is not "now, again"
    assert 2.0 <= slept[1] < 2.2
    stats = http.metrics.summary()["busy"]
    assert (stats["rate_limited"], stats["success"], stats["requests"]) == (2, 1, 3)


def test_retry_after_as_an_http_date(scripted) -> None:
    script, server = scripted
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=5), usegmt=True)
    script.answers["dated"] = [(429, {"Retry-After": when})]
    slept: list[float] = []
    with client(server, slept) as http:
        http.request("GET", "/dated", endpoint="dated")
    assert 3.0 <= slept[0] <= 5.2  # the date is whole seconds: up to 1 s earlier


def test_server_errors_back_off_and_give_up_within_the_budget(scripted) -> None:
    script, server = scripted
    script.answers["down"] = [(503, {})] * 10
    slept: list[float] = []
    with client(server, slept, max_attempts=4) as http, pytest.raises(
            RetriesExhaustedError, match=r"acme down HTTP 503.*gave up after 4 attempts"):
        http.request("GET", "/down", endpoint="down")
    assert script.seen["down"] == 4 and len(slept) == 3
    assert all(MIN_RETRY_WAIT_S <= wait <= 30 for wait in slept)
    assert http.metrics.summary()["down"]["retried"] == 4


def test_a_vendors_retry_hint_header_overrides_the_status_rule(scripted) -> None:
    """A client that names a retry-hint header (Stripe's) retries a 409 the vendor marks
    retryable and does not retry a 500 it marks final; a client without one ignores it."""
    script, server = scripted
    script.answers["hinted"] = [(409, {"Should-Retry": "true"})]
    script.answers["final"] = [(500, {"Should-Retry": "false"})]
    script.answers["plain"] = [(409, {"Should-Retry": "true"})]
    slept: list[float] = []
    with client(server, slept, retry_hint_header="Should-Retry") as http:
        assert http.request("POST", "/hinted", endpoint="hinted").status_code == 200
        with pytest.raises(PermanentVendorError):
            http.request("GET", "/final", endpoint="final")
    with client(server, slept) as http, pytest.raises(PermanentVendorError):
        http.request("POST", "/plain", endpoint="plain")
    assert (script.seen["hinted"], script.seen["final"], script.seen["plain"]) == (2, 1, 1)


@pytest.mark.parametrize("status", [400, 404, 405, 422])
def test_permanent_failures_are_not_retried(scripted, status: int) -> None:
    script, server = scripted
    script.answers["bad"] = [(status, {})]
    slept: list[float] = []
    with client(server, slept) as http, pytest.raises(PermanentVendorError) as raised:
        http.request("POST", "/bad", endpoint="bad", json={"x": 1})
    assert raised.value.status == status and not isinstance(raised.value,
                                                            RetriesExhaustedError)
    assert script.seen["bad"] == 1 and slept == []
    assert http.metrics.summary()["bad"]["failed"] == 1


def test_a_401_forces_one_refresh_and_a_second_401_is_final(scripted) -> None:
    script, server = scripted
    script.answers["auth"] = [(401, {}), (401, {}), (401, {})]
    refreshed: list[int] = []
    slept: list[float] = []
    with client(server, slept, auth_headers=lambda: {"Authorization": "Bearer t"},
                on_unauthorized=lambda: refreshed.append(1)) as http, pytest.raises(
            AuthenticationError):
        http.request("GET", "/auth", endpoint="auth")
    assert refreshed == [1] and script.seen["auth"] == 2


@pytest.fixture
def dropping() -> Iterator[SandboxServer]:
    """A server that accepts every request and drops the connection without answering."""
    app = FaultMiddleware(Script().app(), Faults({"connection_reset_rate": 1.0}),
                          make_5xx=lambda status: (status, {}, b""),
                          make_429=lambda: (429, {}, b""))
    server = SandboxServer(app).start()
    yield server
    server.stop()


def test_a_lost_answer_is_resent_only_when_the_request_is_idempotent(dropping) -> None:
    slept: list[float] = []
    with client(dropping, slept, max_attempts=3) as http:
        with pytest.raises(PermanentVendorError, match="may have reached the vendor"):
            http.request("POST", "/w", endpoint="w", idempotent=False)
        assert slept == []  # sent once: it may have been applied, and has no key
        with pytest.raises(RetriesExhaustedError, match="gave up after 3 attempts"):
            http.request("GET", "/r", endpoint="r")
    assert len(slept) == 2


def test_a_refused_connection_is_retried_even_for_a_write() -> None:
    """Nothing listens: the write never reached the vendor, so resending it is safe."""
    slept: list[float] = []
    with VendorHttpClient("acme", "http://127.0.0.1:9", sleep=slept.append,
                          max_attempts=3) as http, pytest.raises(RetriesExhaustedError):
        http.request("POST", "/w", endpoint="w", idempotent=False)
    assert len(slept) == 2
