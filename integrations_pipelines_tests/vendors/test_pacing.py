"""Pacing from vendors' remaining-calls headers, through the real HTTP client against a
loopback server that answers like Xero and like the generic X-RateLimit pair."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.vendors.http import VendorHttpClient
from integrations_pipelines.vendors.pacing import RateLimitExhaustedError, generic_pacer
from integrations_pipelines.vendors.xero.pacing import xero_pacers


def _limited_app() -> Starlette:
    """Answers `/generic` with X-RateLimit-Remaining counting down from 4 (reset in 6 s),
    and `/xero` with Xero's minute and day headers counting down from 3."""
    served = {"generic": 0, "xero": 0}

    async def generic(request: Request) -> JSONResponse:
        served["generic"] += 1
        return JSONResponse({}, headers={"X-RateLimit-Remaining": str(5 - served["generic"]),
                                         "X-RateLimit-Reset": "6"})

    async def xero(request: Request) -> JSONResponse:
        served["xero"] += 1
        left = str(4 - served["xero"])
        return JSONResponse({}, headers={"X-MinLimit-Remaining": "59",
                                         "X-DayLimit-Remaining": left,
                                         "X-AppMinLimit-Remaining": "9999"})

    return Starlette(routes=[Route("/generic", generic), Route("/xero", xero)])


@pytest.fixture
def limited() -> Iterator[SandboxServer]:
    server = SandboxServer(_limited_app()).start()
    yield server
    server.stop()


def test_remaining_calls_are_spread_over_the_window(limited) -> None:
    slept: list[float] = []
    pacer = generic_pacer("acme", sleep=slept.append)
    with VendorHttpClient("acme", limited.url, pacers=[pacer]) as http:
        for _ in range(4):
            http.request("GET", "/generic", endpoint="generic")
    # Remaining 4, 3, 2 (headroom 1): the next calls go 6/3, 6/2 and 6/1 s apart.
    assert len(slept) == 3
    for wait, expected in zip(slept, (2.0, 3.0, 6.0), strict=True):
        assert expected - 0.5 < wait <= expected
    assert pacer.waited_s == pytest.approx(sum(slept))


def test_xero_spreads_the_minute_and_stops_loudly_when_the_day_is_spent(limited) -> None:
    slept: list[float] = []
    with VendorHttpClient("xero", limited.url, pacers=xero_pacers(sleep=slept.append)) as http:
        for _ in range(3):  # day remaining 3, 2, 1
            http.request("GET", "/xero", endpoint="invoices.list")
        with pytest.raises(RateLimitExhaustedError, match="X-DayLimit-Remaining"):
            http.request("GET", "/xero", endpoint="invoices.list")
    # The minute limit (59 left) spreads calls about a second apart; the day limit never
    # sleeps: a spent day fails the run instead of hanging it for hours.
    assert len(slept) == 3 and all(0.5 < wait <= 60 / 58 for wait in slept)
