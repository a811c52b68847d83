"""Stripe's webhooks through the receiver over real HTTP: `Stripe-Signature` verified over
the raw body (any secret of a roll, within 300 s), the event committed to the inbox once
(the event id is the delivery id), and the deliveries drained into the warehouse by the same
load as the Events feed: the refunded charge's row is rewritten, a redelivery adds nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines.mapping.stripe_to_warehouse import tables
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.stripe_account import generate_account
from integrations_pipelines.state.tables import webhook_inbox
from integrations_pipelines.sync import stripe_to_warehouse as load
from integrations_pipelines.sync.stripe_changes import drain_deliveries
from integrations_pipelines.sync.stripe_extraction import store_changed
from integrations_pipelines.vendors.contracts import ContractGuard, Screened
from integrations_pipelines.vendors.stripe.models import Charge
from integrations_pipelines.vendors.stripe.webhooks import signature_header
from integrations_pipelines.webhooks.app import WebhookSecrets, build_receiver
from integrations_pipelines.webhooks.inbox import GroupCommitter

DAY = date(2026, 11, 24)
SECRET, OLD = "whsec_current", "whsec_previous"
ROUTE = "/webhooks/stripe/stripe"
ENTRY = StripeToWarehouseEntry(
    name="stripe_hooks", description="Stripe webhooks.", source="stripe",
    destination="warehouse", owner="team:analytics", owner_email="analytics@example.com",
    slack_channel="#analytics", partitions_start=DAY, schedule={"hour": 4, "minute": 0},
    freshness_sla_hours=26, expected_daily_volume=10,
    warehouse={"schema_name": "analytics_hooks", "table_prefix": "stripe_"})


@pytest.fixture
def receiver(engine):
    app = build_receiver(engine, lambda: WebhookSecrets(shopify=(), quickbooks=()),
                         committer=GroupCommitter(engine, max_wait=0.005),
                         stripe_secrets=lambda: (SECRET, OLD))
    with SandboxServer(app) as server:
        yield server.url


def deliver(url: str, event: dict, *, secret: str = SECRET, at: int | None = None):
    body = json.dumps(event).encode()
    header = signature_header(body, [secret], at or int(time.time()))
    return httpx.post(f"{url}{ROUTE}", content=body, timeout=10,
                      headers={"Content-Type": "application/json", "Stripe-Signature": header})


def test_signed_events_reach_the_warehouse_once_and_bad_ones_change_nothing(receiver, engine):
    ledger = generate_account(seed=4, start=DAY, days=1, charges_per_day=5)
    charge = next(iter(ledger.objects["charges"].values()))
    load.ensure_schema(engine, ENTRY)
    store_changed(engine, ENTRY, "default", [("charges", Screened(
        dict(charge), Charge.model_validate(charge), None), charge["created"])], None, DAY)
    load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1))
    ledger.refund(charge["id"], 100, charge["created"] + 3600)
    event = next(e for e in ledger.events if e["type"] == "charge.refunded")

    assert deliver(receiver, event, secret="whsec_wrong").status_code == 401
    assert deliver(receiver, event, at=int(time.time()) - 400).status_code == 401  # replayed
    assert deliver(receiver, event, secret=OLD).json() == {"ok": True, "status": "pending"}
    assert deliver(receiver, event).json()["duplicate"] is True  # Stripe delivers again
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(webhook_inbox)).all()
    assert (row.vendor, row.delivery_id, row.topic, row.record_id) == (
        "stripe", event["id"], "charge.refunded", charge["id"])

    drained = drain_deliveries(engine, engine, ContractGuard(), "2026-10-28", ENTRY, "stripe",
                               None, datetime.now(UTC).date())
    assert (drained.events, drained.objects, drained.rows_written) == (1, 1, 1)
    t = tables(ENTRY)["charges"]
    with engine.connect() as conn:
        assert conn.execute(sa.select(t.c.amount_refunded).where(
            t.c.id == charge["id"])).scalar_one() == 100
        assert conn.execute(sa.select(webhook_inbox.c.status)).scalar_one() == "processed"
    again = drain_deliveries(engine, engine, ContractGuard(), "2026-10-28", ENTRY, "stripe",
                             None, datetime.now(UTC).date())
    assert again.events == 0
