"""A bookkeeper's edit in Xero reaches the Xero pair's change path within minutes.

Over HTTP: the Xero sandbox sends its signed webhook deliveries to the receiver; our own
writes, notified back, launch nothing; a delivery signed with a key the receiver does not
hold is refused with 401 and stays with the sandbox, which sends the same bytes again once
the key is right (nothing dropped); the payment a bookkeeper deleted makes
`<pair>_books_changed_sensor` re-read the invoice and request the pair's repair job for its
day, and that run pays the invoice again. The If-Modified-Since read (the safety net for
lost events, and the only news of credit notes) finds the same change without any webhook.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import dagster as dg
import pytest
import sqlalchemy as sa

from integrations_pipelines.defs.kit import build_pair
from integrations_pipelines.defs.resources import IntegrationStore, ShopifyResource
from integrations_pipelines.defs.shopify_to_xero.pair import pair_spec
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.shopify_orders import LineSpec, apply_refund
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.settings import WebhookSecrets
from integrations_pipelines.state.tables import webhook_inbox
from integrations_pipelines.sync.books_changes import days_to_reconcile
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.shopify_to_xero import order_sync
from integrations_pipelines.sync.xero_books_changes import polled_changes
from integrations_pipelines.vendors.xero.client import connect
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines.webhooks.app import build_receiver
from integrations_pipelines.webhooks.inbox import GroupCommitter
from integrations_pipelines_tests.defs.test_shopify_to_xero import ENTRY, NAME, xero_resource
from integrations_pipelines_tests.defs.test_xero_seeds_scenario import AT, DAY, uk_order
from integrations_pipelines_tests.sync.test_xero_changes import store

REPAIRING = ENTRY.model_copy(update={"xero": ENTRY.xero.model_copy(update={
    "repair_changed_books": True, "books_changes_minutes": 0})})


@pytest.fixture
def xero_sandbox():
    server, books = start_xero(per_minute=6000)
    yield server, books
    server.stop()


@pytest.mark.slow  # two runs of the pair's jobs through Dagster
def test_a_bookkeepers_edit_reaches_the_repair_job_through_xero_webhooks(
        database_url, engine, dagster_instance, shop_sandbox, xero_sandbox):
    order = uk_order(1, [LineSpec("Mug", Decimal("12.00"), 2)])
    shop_server, shop = shop_sandbox([order])
    xero_server, xero = xero_sandbox
    keys = ["a-key-from-before-the-rotation"]
    receiver = build_receiver(engine, lambda: WebhookSecrets(shopify=(), quickbooks=()),
                              committer=GroupCommitter(engine, max_wait=0.005),
                              xero_keys=lambda: tuple(keys))
    resources = {"store": IntegrationStore(database_url=database_url),
                 "shopify": ShopifyResource(base_url=shop_server.url,
                                            access_token=shop.access_token),
                 "xero": xero_resource(xero_server, xero)}
    defs = dg.Definitions.merge(build_pair(pair_spec(REPAIRING)),
                                dg.Definitions(resources=resources))
    sensor = defs.resolve_sensor_def(f"{NAME}_books_changed_sensor")
    assert sensor.job_name == f"{NAME}_repair_job"

    def evaluate(cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        with dg.build_sensor_context(instance=dagster_instance, cursor=cursor,
                                     resources=resources, definitions=defs) as context:
            result = sensor.evaluate_tick(context)
        return list(result.run_requests or []), result.cursor

    def inbox() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(webhook_inbox.c.status)
                                     .order_by(webhook_inbox.c.id)).scalars())

    booked = defs.resolve_job_def(f"{NAME}_job").execute_in_process(
        partition_key=DAY.isoformat(), instance=dagster_instance)
    assert booked.success
    [invoice] = xero.books.query_invoices(None, None, None)
    assert (invoice["Status"], invoice["AmountPaid"]) == ("PAID", 24.0)

    with SandboxServer(receiver) as server:
        xero.webhook_url = f"{server.url}/webhooks/xero/{REPAIRING.xero.webhook_connection}"
        # Our own writes, notified back: taken, re-read, judged ours: nothing to run.
        keys.append(xero.webhook_key)
        assert xero.deliver_webhooks() == [200]
        requests, cursor = evaluate(None)
        assert requests == [] and inbox() == ["processed"]

        # The key is rotated on Xero's side first: the receiver refuses the delivery, and
        # Xero keeps it; once the receiver holds the new key the same delivery is taken.
        keys[:] = ["a-key-from-before-the-rotation"]
        xero.books.delete_payment(invoice["Payments"][0]["PaymentID"])  # the bookkeeper
        assert xero.deliver_webhooks() == [401]
        assert inbox() == ["processed"]
        keys.append(xero.webhook_key)
        assert xero.deliver_webhooks() == [200]
        assert inbox() == ["processed", "pending"]

    requests, cursor = evaluate(cursor)
    [request] = requests
    assert request.partition_key == DAY.isoformat()
    assert request.tags["changed_invoices"] == invoice["InvoiceID"]
    assert inbox() == ["processed", "processed"]
    assert evaluate(cursor)[0] == []  # requested once, not every tick

    repaired = defs.resolve_job_def(request.job_name or sensor.job_name).execute_in_process(
        partition_key=request.partition_key, instance=dagster_instance, tags=request.tags)
    assert repaired.success
    [invoice] = xero.books.query_invoices(None, None, None)
    assert (invoice["Status"], invoice["AmountPaid"]) == ("PAID", 24.0)


def test_the_if_modified_since_read_finds_an_edit_no_webhook_reported(engine, xero_sandbox):
    refunded = uk_order(2, [LineSpec("Jam", Decimal("6.00"), 3)])
    # A partial refund: its credit note is the read's other document (found through its
    # allocation and our marker), and ours too.
    apply_refund(refunded, at=AT + timedelta(hours=5), refund_id=7101, transaction_id=7102,
                 lines=[(refunded["line_items"][0]["id"], 1)])
    store(engine, refunded)
    xero_server, xero = xero_sandbox
    client = connect(XeroSettings(
        xero_server.url, f"{xero_server.url}/connect/token", xero.tokens.client_id,
        xero.tokens.client_secret, xero.books.tenant_id,
        bootstrap_refresh_token=xero.tokens.current_refresh_token), engine, per_minute=6000)
    before = datetime.now(UTC) - timedelta(seconds=5)
    with client.http:
        outcome = order_sync(engine, client, ENTRY).run(
            StoredOrders(engine, DAY, DAY + timedelta(days=1)))
        assert outcome.created == 1
        with engine.connect() as conn:
            ours = polled_changes(conn, NAME, client, before)
            assert ours and days_to_reconcile(conn, NAME, ours) == {}  # our own writes
        after = datetime.now(UTC)
        [invoice] = xero.books.query_invoices(None, None, None)
        xero.books.delete_payment(invoice["Payments"][0]["PaymentID"])  # no webhook sent
        with engine.connect() as conn:
            theirs = polled_changes(conn, NAME, client, after - timedelta(seconds=1))
            days = days_to_reconcile(conn, NAME, theirs)
    assert list(days) == [DAY]
    assert {c.invoice_id for c in days[DAY]} == {invoice["InvoiceID"]}
