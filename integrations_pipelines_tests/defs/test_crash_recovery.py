"""A crash between QuickBooks accepting a create and our ledger commit creates no duplicate.

The sync runs in a child process against the sandboxes served by this test. Every write is
answered only after a delay (the write itself is already committed in QuickBooks), and the
child is SIGKILLed the moment the first invoice exists in QuickBooks: its ledger row was never
committed. The re-run must find that invoice by its DocNumber and leave exactly one per order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import date

import pytest
import sqlalchemy as sa

from integrations_pipelines.state.tables import sync_ledger
from integrations_pipelines_tests.builders import UNMAPPABLE_EDGES, clean_orders
from integrations_pipelines_tests.support import definitions_for, run_partition, sandbox_resources

# A run killed in a subprocess, then the whole job again.
pytestmark = pytest.mark.slow

DAY = date(2026, 11, 3)

CHILD = """
import json, sys
import dagster as dg
from integrations_pipelines_tests.support import definitions_for, sandbox_resources, JOB

class Tokens:
    def __init__(self, c):
        self.client_id, self.client_secret = c["client_id"], c["client_secret"]
        self.current_refresh_token = c["refresh_token"]

class Books:
    def __init__(self, c):
        self.tokens, self.realm_id = Tokens(c), c["realm_id"]
        self.per_second, self.per_minute = c["per_second"], c["per_minute"]

c = json.loads(sys.argv[1])
defs = definitions_for(sandbox_resources(c["database_url"], c["shop_url"], c["shop_token"],
                                         c["qbo_url"], Books(c)))
defs.resolve_job_def(JOB).execute_in_process(partition_key=c["day"],
                                             instance=dg.DagsterInstance.ephemeral())
"""


def _live_invoices(books) -> list[dict]:
    return [i for i in books.all_invoices() if i["_sandbox_status"] != "deleted"]


def test_kill_between_create_and_ledger_commit_leaves_one_invoice(
        database_url, engine, dagster_instance, shop_sandbox, qbo_sandbox):
    orders = clean_orders(5, DAY, 12, without=UNMAPPABLE_EDGES)
    shop_server, shop = shop_sandbox(orders)
    qbo_server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    books.faults.update({"hang_after_write_seconds": 1.5})  # committed, answered late
    config = {
        "database_url": database_url, "shop_url": shop_server.url,
        "shop_token": shop.access_token, "qbo_url": qbo_server.url,
        "client_id": books.tokens.client_id, "client_secret": books.tokens.client_secret,
        "refresh_token": books.tokens.current_refresh_token, "realm_id": books.realm_id,
        "per_second": books.per_second, "per_minute": books.per_minute, "day": DAY.isoformat(),
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(config)],
                             env={**os.environ}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not _live_invoices(books):
        assert child.poll() is None, child.stderr.read().decode()[-3000:]
        assert time.monotonic() < deadline, "no invoice was ever created"
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    created = _live_invoices(books)
    assert len(created) == 1
    with engine.connect() as conn:
        ledger_ids = {r.destination_id for r in conn.execute(sa.select(sync_ledger))}
    assert created[0]["Id"] not in ledger_ids, "the kill came after the ledger commit"

    books.faults.update({"hang_after_write_seconds": 0})
    defs = definitions_for(sandbox_resources(database_url, shop_server.url, shop.access_token,
                                             qbo_server.url, books))
    assert run_partition(defs, dagster_instance, DAY.isoformat()).success

    invoices = _live_invoices(books)
    by_doc: dict[str, list[str]] = {}
    for invoice in invoices:
        by_doc.setdefault(invoice["DocNumber"], []).append(invoice["Id"])
    assert sorted(by_doc) == sorted(f"S{o['order_number']}" for o in orders)
    assert all(len(ids) == 1 for ids in by_doc.values()), by_doc
    assert by_doc[created[0]["DocNumber"]] == [created[0]["Id"]]
    with engine.connect() as conn:
        ledger = {r.destination_key: r.destination_id for r in conn.execute(sa.select(sync_ledger))}
    assert ledger == {doc: ids[0] for doc, ids in by_doc.items()}
