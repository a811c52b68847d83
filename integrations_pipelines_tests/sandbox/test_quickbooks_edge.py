"""Intuit's edge in the sandbox: an intuit_tid on every answer, at most 10 requests at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx


def test_every_answer_has_an_intuit_tid_and_the_eleventh_concurrent_call_is_refused(
        qbo_sandbox) -> None:
    server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    token = books.tokens.issue()["access_token"]
    realm = books.realm_id
    with httpx.Client(base_url=server.url) as http:
        refused = http.get(f"/v3/company/{realm}/invoice/1")  # unauthenticated: still tagged
        assert refused.status_code == 401 and refused.headers["intuit_tid"]
    books.faults.update({"hang_after_write_seconds": 3.0})

    def create(n: int) -> httpx.Response:
        body = {"DisplayName": f"Customer {n}"}
        with httpx.Client(base_url=server.url, timeout=10) as http:
            return http.post(f"/v3/company/{realm}/customer", json=body,
                             headers={"Authorization": f"Bearer {token}"})

    with ThreadPoolExecutor(14) as pool:
        answers = list(pool.map(create, range(14)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == 10 and statuses.count(429) == 4, statuses
    assert all(a.headers.get("intuit_tid") for a in answers)
    assert len({a.headers["intuit_tid"] for a in answers}) == 14
    assert books.stats["concurrency_refused"] == 4
