"""Pushed changes reach the books through the inbox: deliveries arrive twice, out of order and
before their order, over real HTTP into the real receiver; the drain sensor launches one run
that re-syncs each order at its newest version through the nightly write path; the polling
path then finds the same changes already written (counted once). When deliveries stop, the
webhooks' dead-man check says so; a hand edit notified by QuickBooks reconciles its day."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import dagster as dg
import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines.defs.shopify_to_quickbooks.change_capture import CHANGES_KEY
from integrations_pipelines.defs.shopify_to_quickbooks.steps import CATALOG
from integrations_pipelines.defs.shopify_to_quickbooks.webhooks import WEBHOOKS_KEY
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.state.tables import sync_ledger, webhook_inbox
from integrations_pipelines.sync.books_changes import CLOUD_EVENT_OPERATIONS
from integrations_pipelines.vendors.quickbooks import webhooks as qbo_webhooks
from integrations_pipelines.vendors.shopify.webhooks import sign
from integrations_pipelines.webhooks.app import WebhookSecrets, build_receiver
from integrations_pipelines_tests.alerting.conftest import Daemon
from integrations_pipelines_tests.builders import clean_orders
from integrations_pipelines_tests.support import live_invoice, run_partition

DAY = date(2026, 11, 4)
SECRET, VERIFIER = "shpss_webhooks", "intuit-verifier"
SHOP_ROUTE, BOOKS_ROUTE = "/webhooks/shopify/shop", "/webhooks/quickbooks/books"


@pytest.fixture
def receiver(engine):
    app = build_receiver(engine, lambda: WebhookSecrets(shopify=(SECRET,),
                                                        quickbooks=(VERIFIER,)))
    with SandboxServer(app) as server:
        yield server.url


def push(url: str, topic: str, body: dict, webhook_id: str) -> None:
    raw = json.dumps(body).encode()
    answer = httpx.post(f"{url}{SHOP_ROUTE}", content=raw, timeout=10, headers={
        "Content-Type": "application/json", "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id, "X-Shopify-Hmac-Sha256": sign(raw, SECRET),
        "X-Shopify-Shop-Domain": "sandbox-shop.myshopify.com"})
    assert answer.status_code == 200, answer.text


def notify(url: str, realm: str, entities: list[dict], cloud_events: bool = False) -> None:
    """A signed QuickBooks notification, in the legacy format or as CloudEvents (the format
    Intuit moves every app to)."""
    document: object = {"eventNotifications": [{"realmId": realm, "dataChangeEvent": {
        "entities": entities}}]}
    if cloud_events:
        verbs = {v: k for k, v in CLOUD_EVENT_OPERATIONS.items()}
        document = [{"specversion": "1.0", "id": f"evt-{n}", "source": "intuit.test",
                     "type": f"qbo.{e['name'].lower()}.{verbs[e['operation']]}.v1",
                     "datacontenttype": "application/json", "time": e["lastUpdated"],
                     "intuitentityid": e["id"], "intuitaccountid": realm, "data": {}}
                    for n, e in enumerate(entities)]
    raw = json.dumps(document).encode()
    answer = httpx.post(f"{url}{BOOKS_ROUTE}", content=raw, timeout=10, headers={
        "Content-Type": "application/json", "intuit-signature": qbo_webhooks.sign(raw, VERIFIER)})
    assert answer.status_code == 200, answer.text


def _launch(env, instance, job: str, request: dg.RunRequest,
            succeeds: bool = True) -> dg.ExecuteInProcessResult:
    """Run what a sensor asked for, as the run launcher would."""
    result = env.defs.resolve_job_def(job).execute_in_process(
        instance=instance, tags=request.tags, partition_key=request.partition_key,
        raise_on_error=False)
    assert result.success == succeeds
    return result


def _materialization(result, key: dg.AssetKey) -> dg.AssetMaterialization:
    [found] = [m for m in result.get_asset_materialization_events()
               if m.asset_key == key]
    return found.materialization


def _inbox(engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(webhook_inbox).order_by(webhook_inbox.c.id)))


def test_pushed_changes_are_synced_once_in_version_order(sandboxes, engine, dagster_instance,
                                                         receiver) -> None:
    orders = clean_orders(8, DAY, 30, paid=True, count=4)
    refunded, cancelled, edited, late = orders
    env = sandboxes([refunded, cancelled, edited])  # `late` is not in the shop yet
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    daemon = Daemon(env.defs, dagster_instance)
    assert daemon.tick("webhook_inbox_sensor").run_requests == []  # nothing waits

    refund = env.shop.refund_order(refunded["id"], "5.00")
    push(receiver, "refunds/create", refund, "wh-refund")  # a refund: re-read its order
    push(receiver, "refunds/create", refund, "wh-refund")  # redelivered: no second row
    first_edit = env.shop.patch_order(edited["id"], {"email": "first@example.com"})
    second_edit = env.shop.patch_order(edited["id"], {"email": "second@example.com"},
                                       at=datetime.now(UTC) + timedelta(seconds=2))
    push(receiver, "orders/updated", second_edit, "wh-edit-2")
    push(receiver, "orders/updated", first_edit, "wh-edit-1")  # older, arrives last
    # A cancellation that arrives before its order was ever extracted.
    env.shop.upsert_orders([late])
    cancelled_late = env.shop.cancel_order(late["id"])
    push(receiver, "orders/cancelled", cancelled_late, "wh-late-cancel")
    push(receiver, "orders/cancelled", env.shop.cancel_order(cancelled["id"]), "wh-cancel")
    assert len(_inbox(engine)) == 5

    [request] = daemon.tick("webhook_inbox_sensor").run_requests
    assert request.tags["webhooks"] == "5 pending"
    result = _launch(env, dagster_instance, "shopify_to_quickbooks_webhooks_job", request)
    drained = _materialization(result, WEBHOOKS_KEY).metadata
    assert drained["deliveries_processed"].value == 5
    assert drained["orders"].value == 4
    assert drained["orders_reread"].value == 2  # the refund, and the order we never had
    assert (drained["invoices_updated"].value, drained["invoices_voided"].value,
            drained["invoices_created"].value) == (2, 2, 0)  # the late order: created voided
    assert drained["inbox_pending"].value == 0
    [inbox_check] = result.get_asset_check_evaluations()
    assert inbox_check.check_name == "webhook_inbox_keeps_up" and inbox_check.passed

    now = env.shop.get_order(refunded["id"])["current_total_price_set"]["presentment_money"]
    doc = f"S{refunded['order_number']}"
    assert Decimal(str(live_invoice(env.books, doc)["TotalAmt"])) == Decimal(now["amount"])
    edited_invoice = live_invoice(env.books, f"S{edited['order_number']}")
    assert edited_invoice["BillEmail"]["Address"] == "second@example.com"  # newest wins
    assert live_invoice(env.books, f"S{cancelled['order_number']}")["PrivateNote"].startswith(
        "Voided")
    assert live_invoice(env.books, f"S{late['order_number']}")["PrivateNote"].startswith("Voided")
    rows = _inbox(engine)
    assert {r.status for r in rows} == {"processed"} and all(r.outcome for r in rows)
    assert daemon.tick("webhook_inbox_sensor").run_requests == []

    # The polling path sees the same four changes: written once, unchanged the second time.
    time.sleep(CATALOG.change_capture.lag_seconds + 3)  # the feed reads up to now - lag
    changes = env.defs.resolve_job_def("shopify_to_quickbooks_changes_job").execute_in_process(
        instance=dagster_instance)
    polled = _materialization(changes, CHANGES_KEY).metadata
    assert polled["orders_changed"].value >= 4
    assert (polled["invoices_updated"].value, polled["invoices_voided"].value,
            polled["invoices_created"].value) == (0, 0, 0)
    coverage = {c.check_name: c for c in changes.get_asset_check_evaluations()}
    assert coverage["webhooks_deliver_changes"].passed  # every change came by webhook too


def test_changes_that_no_webhook_delivered_trip_the_dead_man(sandboxes, engine,
                                                             dagster_instance) -> None:
    orders = clean_orders(9, DAY, 30, paid=True, count=4)
    env = sandboxes(orders)
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    past = datetime.now(UTC) - timedelta(minutes=10)  # changed ten minutes ago, no webhook
    for order in orders:
        env.shop.patch_order(order["id"], {"note": "changed"}, at=past)
    result = env.defs.resolve_job_def("shopify_to_quickbooks_changes_job").execute_in_process(
        instance=dagster_instance)
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    stopped = checks["webhooks_deliver_changes"]
    assert not stopped.passed and stopped.severity == dg.AssetCheckSeverity.WARN
    assert stopped.metadata["undelivered"].value == 4
    assert "subscription" in stopped.metadata["likely_cause"].value
    assert set(stopped.metadata["undelivered_examples"].value) == {
        str(o["id"]) for o in orders}


def _stored_delivery(engine: sa.Engine, received_at: datetime, delivery_id: str) -> None:
    """A delivery the receiver stored at `received_at` (about an order of another day)."""
    with engine.begin() as conn:
        conn.execute(webhook_inbox.insert().values(
            vendor="shopify", connection=CATALOG.webhooks.shopify_connection,
            topic="orders/updated", delivery_id=delivery_id, received_at=received_at,
            body="{}", status="processed", record_id="1", record_version=received_at))


def test_changes_from_before_the_first_delivery_do_not_trip_the_dead_man(
        sandboxes, engine, dagster_instance) -> None:
    """A first start: the shop's orders changed before the subscription existed, so no
    webhook could name them; once deliveries have been arriving, the same silence trips."""
    orders = clean_orders(9, DAY, 30, paid=True, count=4)
    env = sandboxes(orders)
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    now = datetime.now(UTC)
    for order in orders:  # changed ten minutes ago, before any delivery
        env.shop.patch_order(order["id"], {"note": "changed"}, at=now - timedelta(minutes=10))
    _stored_delivery(engine, now - timedelta(minutes=5), "first-ever")
    job = env.defs.resolve_job_def("shopify_to_quickbooks_changes_job")
    first_start = {c.check_name: c for c in job.execute_in_process(
        instance=dagster_instance).get_asset_check_evaluations()}
    assert first_start["webhooks_deliver_changes"].passed
    assert first_start["webhooks_deliver_changes"].metadata["orders_changed"].value == 0

    _stored_delivery(engine, now - timedelta(minutes=40), "an-older-one")  # they used to come
    stopped = {c.check_name: c for c in job.execute_in_process(
        instance=dagster_instance).get_asset_check_evaluations()}
    assert not stopped["webhooks_deliver_changes"].passed
    assert stopped["webhooks_deliver_changes"].metadata["undelivered"].value == 4


@pytest.mark.parametrize("cloud_events", [False, True], ids=["legacy", "cloudevents"])
def test_a_hand_edit_notified_by_quickbooks_reconciles_its_day_and_our_own_writes_do_not(
        sandboxes, engine, dagster_instance, receiver, cloud_events) -> None:
    orders = clean_orders(10, DAY, 30, paid=True, count=3)
    env = sandboxes(orders)
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    ours, edited = (live_invoice(env.books, f"S{o['order_number']}") for o in orders[:2])
    changed = env.books.patch_invoice_raw(edited["Id"], {"TotalAmt": 1.0})  # the bookkeeper
    realm = env.books.realm_id
    notify(receiver, realm, [
        {"name": "Invoice", "id": ours["Id"], "operation": "Create",
         "lastUpdated": ours["MetaData"]["LastUpdatedTime"]},  # our write, notified back
        {"name": "Invoice", "id": edited["Id"], "operation": "Update",
         "lastUpdated": changed["MetaData"]["LastUpdatedTime"]},
        {"name": "Customer", "id": "1", "operation": "Update",
         "lastUpdated": changed["MetaData"]["LastUpdatedTime"]}], cloud_events)
    notify(receiver, "another-realm", [{"name": "Invoice", "id": edited["Id"],
                                         "operation": "Update", "lastUpdated": "2026-12-01"}],
           cloud_events)
    daemon = Daemon(env.defs, dagster_instance)
    with engine.begin() as conn:  # let the settle time pass
        conn.execute(webhook_inbox.update().values(
            received_at=webhook_inbox.c.received_at - timedelta(minutes=5)))
        [ledger_row] = conn.execute(sa.select(sync_ledger.c.destination_updated_at).where(
            sync_ledger.c.destination_id == ours["Id"])).all()
    assert ledger_row.destination_updated_at is not None

    data = daemon.tick("books_changed_sensor")
    [request] = data.run_requests  # one run for the one day someone else changed
    assert request.partition_key == DAY.isoformat()
    assert request.tags["changed_invoices"] == edited["Id"]
    assert {r.status for r in _inbox(engine)} == {"processed"}
    assert daemon.tick("books_changed_sensor").run_requests == []  # asked once

    result = _launch(env, dagster_instance, "shopify_to_quickbooks_job", request,
                     succeeds=False)  # the blocking reconciliation check stops the run
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    reconciled = checks["invoices_match_shopify_orders"]
    assert not reconciled.passed
    assert reconciled.metadata["wrong_values"].value == 1


def test_the_sandbox_pushes_duplicated_reordered_and_dropped_deliveries_and_the_books_end_right(
        sandboxes, engine, dagster_instance, receiver) -> None:
    """Shopify's sandbox subscribed over its Admin API, delivering with every fault knob on:
    what arrives is synced in version order, what was dropped is found by polling, and every
    invoice ends as Shopify's order says, each change written once."""
    orders = clean_orders(11, DAY, 60, paid=True, count=12)
    env = sandboxes(orders)
    assert run_partition(env.defs, dagster_instance, DAY.isoformat()).success
    version = CATALOG.shopify.api_version
    for topic in ("orders/create", "orders/updated", "orders/cancelled", "refunds/create"):
        answer = httpx.post(f"{env.shop_url}/admin/api/{version}/webhooks.json", timeout=10,
                            headers={"X-Shopify-Access-Token": env.shop.access_token},
                            json={"webhook": {"topic": topic, "format": "json",
                                              "address": f"{receiver}{SHOP_ROUTE}"}})
        assert answer.status_code == 201, answer.text
    env.shop.webhook_secret = SECRET  # the app's client secret, as the receiver knows it
    env.shop.faults.update({"webhook_duplicate_rate": 0.3, "webhook_reorder_rate": 0.3,
                            "webhook_drop_rate": 0.15, "seed": 5})
    for n, order in enumerate(orders):
        if n % 3 == 0:
            env.shop.refund_order(order["id"], "3.00")
        elif n % 3 == 1:
            env.shop.cancel_order(order["id"])
        env.shop.patch_order(order["id"], {"note": f"edit {n}"})
    assert env.shop.webhooks.wait_idle(60)
    injected = env.shop.faults.injected
    assert injected.get("webhook_duplicate") and injected.get("webhook_reorder")
    assert injected.get("webhook_drop")

    daemon = Daemon(env.defs, dagster_instance)
    [request] = daemon.tick("webhook_inbox_sensor").run_requests
    pushed = _materialization(_launch(env, dagster_instance,
                                      "shopify_to_quickbooks_webhooks_job", request),
                              WEBHOOKS_KEY).metadata
    assert pushed["inbox_pending"].value == 0
    with engine.connect() as conn:  # one row per delivery id, duplicates refused
        ids = conn.execute(sa.select(webhook_inbox.c.delivery_id)).scalars().all()
    assert len(ids) == len(set(ids)) and len(ids) > len(orders)

    time.sleep(CATALOG.change_capture.lag_seconds + 1)
    polled = _materialization(env.defs.resolve_job_def(
        "shopify_to_quickbooks_changes_job").execute_in_process(instance=dagster_instance),
        CHANGES_KEY).metadata
    # Together the two paths wrote each changed invoice exactly once (a note edit changes no
    # invoice: those orders stay unchanged).
    written = sum(pushed[k].value + polled[k].value
                  for k in ("invoices_updated", "invoices_voided", "invoices_created"))
    assert written == len([n for n in range(len(orders)) if n % 3 != 2])
    for order in orders:
        now = env.shop.get_order(order["id"])
        invoice = live_invoice(env.books, f"S{order['order_number']}")
        if now.get("cancelled_at"):
            assert invoice["PrivateNote"].startswith("Voided")
        else:
            total = now["current_total_price_set"]["presentment_money"]["amount"]
            assert Decimal(str(invoice["TotalAmt"])) == Decimal(total)
    night = run_partition(env.defs, dagster_instance, DAY.isoformat())
    checks = {c.check_name: c.passed for c in night.get_asset_check_evaluations()}
    assert checks["invoices_match_shopify_orders"]
