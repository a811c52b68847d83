"""The request budget shared across processes: token buckets in PostgreSQL that every
process calling one vendor account reserves from, so that together they stay under the
vendor's limit (the nightly run and a backfill at once)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from itertools import pairwise

import pytest
import sqlalchemy as sa

from integrations_pipelines.settings import QuickBooksSettings
from integrations_pipelines.state.tables import request_budgets
from integrations_pipelines.vendors.budget import RateLimit, SharedRequestBudget
from integrations_pipelines.vendors.quickbooks.client import connect, realm_budget
from integrations_pipelines_tests.support import sandbox_quickbooks_settings

RESERVE_IN_A_PROCESS = """
import json, sys
from integrations_pipelines.state.db import engine_for
from integrations_pipelines.vendors.budget import RateLimit, SharedRequestBudget
capacity = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
budget = SharedRequestBudget(engine_for(sys.argv[1]), "acme:shared",
                             [RateLimit("slow", capacity=capacity, refill_per_second=0.1)])
print(json.dumps([budget.reserve() for _ in range(int(sys.argv[2]))]))
"""


def test_window_limits_never_allow_more_than_the_vendor_in_any_window() -> None:
    for requests, seconds in ((10, 1.0), (500, 60.0), (60, 60.0), (5000, 86_400.0)):
        limit = RateLimit.window("w", requests, seconds)
        assert limit.capacity + limit.refill_per_second * seconds <= requests
        assert limit.refill_per_second * seconds >= 0.9 * requests  # and not far below
    shop = RateLimit.leaky_bucket("bucket", 40, 2.0)
    assert shop.capacity < 40 and shop.refill_per_second < 2.0


def test_two_processes_reserve_from_one_budget(database_url) -> None:
    """Two OS processes, one account: only the bucket's burst goes at once, every other
    request is given its own later slot, whichever process asked."""
    procs = [subprocess.Popen([sys.executable, "-c", RESERVE_IN_A_PROCESS, database_url, "15"],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    waits = sorted(w for p in procs for w in json.loads(p.communicate(timeout=120)[0]))
    assert all(p.returncode == 0 for p in procs)
    assert len(waits) == 30
    # Capacity 2, refill one per 10 s: the whole exchange takes far less than 10 s, so at
    # most 3 requests may go at once and the last one waits for about 27 refills.
    assert sum(1 for w in waits if w <= 0) <= 3
    assert waits[-1] >= 250
    gaps = [b - a for a, b in pairwise(waits[3:])]
    assert min(gaps) >= 9  # distinct slots, about 10 s apart


def test_two_processes_taking_tokens_ahead_stay_within_the_bucket(database_url) -> None:
    """With tokens to spare each process takes up to a batch per round trip; together they
    still get no more than the bucket holds at once, and every later request its own slot."""
    procs = [subprocess.Popen([sys.executable, "-c", RESERVE_IN_A_PROCESS, database_url, "15",
                               "12"], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    waits = sorted(w for p in procs for w in json.loads(p.communicate(timeout=120)[0]))
    assert all(p.returncode == 0 for p in procs)
    assert len(waits) == 30
    free = sum(1 for w in waits if w <= 0)
    assert 12 <= free <= 13  # the bucket's 12 (and at most one refill while they ran)
    gaps = [b - a for a, b in pairwise(waits[free:])]
    assert min(gaps) >= 9


def test_one_round_trip_takes_a_batch_while_no_bucket_has_a_queue(engine) -> None:
    budget = SharedRequestBudget(engine, "acme:batch", [RateLimit("x", 20, 0.01)], batch=8)
    assert [budget.reserve() for _ in range(8)] == [0.0] * 8
    assert budget.round_trips == 1
    budget.reserve()
    assert budget.round_trips == 2
    with engine.connect() as conn:
        assert 3.9 < conn.execute(sa.select(request_budgets.c.tokens)).scalar_one() < 4.2


def test_tokens_taken_ahead_expire_unused(engine) -> None:
    """A token taken ahead but not used within `hold_s` is never used: the next request
    reserves anew, and the expired ones are not given back (they may have gone late)."""
    budget = SharedRequestBudget(engine, "acme:hold", [RateLimit("x", 20, 0.01)], batch=8,
                                 hold_s=0.05)
    budget.reserve()
    time.sleep(0.2)
    budget.reserve()
    assert budget.round_trips == 2
    with engine.connect() as conn:
        assert 3.9 < conn.execute(sa.select(request_budgets.c.tokens)).scalar_one() < 4.2


def test_a_queued_bucket_takes_one_token_a_round_trip(engine) -> None:
    """Once a bucket has a queue, a reservation takes one slot, as without batches: a
    process does not hold slots it may never use."""
    budget = SharedRequestBudget(engine, "acme:queued", [RateLimit("x", 2, 0.1)], batch=8)
    waits = [budget.reserve() for _ in range(5)]
    assert waits[:2] == [0.0, 0.0] and all(w >= 9 for w in waits[2:])
    assert budget.round_trips == 4  # the two free tokens at once, then one slot each


def test_the_budget_follows_changed_limits(engine) -> None:
    budget = SharedRequestBudget(engine, "acme:changing", [RateLimit("x", 5, 1.0)])
    budget.reserve()
    SharedRequestBudget(engine, "acme:changing", [RateLimit("x", 50, 20.0)]).reserve()
    with engine.connect() as conn:
        row = conn.execute(sa.select(request_budgets)).one()
    assert (row.bucket, row.capacity, row.refill_per_second) == ("acme:changing:x", 50, 20.0)


def _hammer(settings: QuickBooksSettings, engine: sa.Engine, requests: int,
            shared: bool) -> None:
    budget = realm_budget(engine, settings.realm_id, 10, 100_000) if shared else None
    client = connect(settings, engine, budget=budget)
    with client.http:
        for _ in range(requests):
            client.find_customers("DisplayName = 'nobody'")


@pytest.mark.slow  # two whole syncs at once against a throttling company
@pytest.mark.parametrize("shared", [True, False], ids=["shared_budget", "no_budget"])
def test_two_syncs_at_once_stay_under_the_realms_limit(engine, qbo_sandbox, shared) -> None:
    """Two clients of one realm hammering it at once (as two runs would): with the shared
    budget the sandbox's 10/s throttle never answers 429; without it, it does (which is
    what makes this test able to fail)."""
    server, books = qbo_sandbox
    books.update_settings({"per_second": 10, "per_minute": 100_000})
    settings = sandbox_quickbooks_settings(server, books)
    connect(settings, engine).tokens.access_token()  # one refresh, before the race
    workers = [threading.Thread(target=_hammer, args=(settings, engine, 25, shared))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
    assert books.stats["requests:query"] >= 50
    if shared:
        assert books.stats["throttled"] == 0
    else:
        assert books.stats["throttled"] > 0
