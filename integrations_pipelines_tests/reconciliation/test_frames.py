"""The window frames the reconciliation check reads from the store: which invoices belong to
the integration, which voided copies are settled, which orders are accounted for by a dead
letter, and which failed calls and token states explain missing invoices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.reconciliation.shopify_to_quickbooks import (
    destination_frame,
    load_window,
)
from integrations_pipelines.reconciliation.window import reconcile_window
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.state import raw
from integrations_pipelines.state.tables import http_failures, oauth_tokens
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines.vendors.shopify.records import ORDERS, business_date, order_record
from integrations_pipelines_tests.builders import integration_invoice as _invoice

DAY = date(2026, 11, 9)
REALM = "4620816365000000001"
CATALOG = integration("shopify_to_quickbooks")


def test_only_the_integrations_invoices_count_and_voided_copies_are_settled():
    ledger = pd.DataFrame({"key": ["S1", "S2"], "source_id": ["1", "2"],
                           "source_version": pd.to_datetime(["2026-11-09"] * 2, utc=True),
                           "destination_id": ["10", "20"], "status": ["synced", "voided"]})
    frame = destination_frame([
        _invoice("10", "S1"),
        _invoice("11", "S1", note="Voided - shopify:order:1 #1001"),  # a voided copy: settled
        _invoice("20", "S2", note="Voided - shopify:order:2 #1002"),  # the ledger's, voided
        _invoice("21", "S2"),  # a live copy of a cancelled order's invoice: a duplicate
        _invoice("30", "S1003-R"),  # renumbered by hand, still marked as ours
        _invoice("40", "MANUAL-7", note="wholesale"),  # the bookkeeper's own numbering
        _invoice("50", "S3", note="Voided"),  # voided, alone: still the record of S3
    ], ledger)
    assert frame[["key", "destination_id"]].values.tolist() == [
        ["S1", "10"], ["S2", "20"], ["S2", "21"], ["S1003-R", "30"], ["S3", "50"]]
    assert frame.loc[frame["key"] == "S2", "voided"].tolist() == [True, False]
    assert frame["customer_tag"].unique().tolist() == ["[shopify:7:USD]"]


def _store_orders(conn: sa.Connection, orders: list[dict]) -> None:
    rows = []
    for payload in orders:
        order = Order.model_validate(payload)
        rows.append(order_record(order, payload, business_date(order)))
    raw.replace_window(conn, ORDERS, DAY, DAY + timedelta(days=1), rows, "extract")


def _causes(conn: sa.Connection, run_ids: set[str]) -> dict[str, str]:
    frames = load_window(conn, CATALOG, DAY, DAY + timedelta(days=1), REALM, run_ids=run_ids)
    report = reconcile_window(frames)
    return dict(zip(report.diagnosis["key"], report.diagnosis["cause_code"], strict=True))


def test_failed_calls_token_health_and_dead_letters_explain_missing_invoices(engine):
    orders = generate_shop(seed=3, start=DAY, days=1, orders_per_day=3)
    now = datetime.now(UTC)
    with engine.connect() as conn:  # an empty window is a clean one
        empty = reconcile_window(load_window(conn, CATALOG, DAY, DAY + timedelta(days=1), None))
        assert empty.counts == dict.fromkeys(
            ("missing", "extra", "duplicate", "stale", "wrong_values", "ok", "dead_lettered"), 0)
    with engine.begin() as conn:
        _store_orders(conn, orders)
        dead_letters.record(conn, dead_letters.DeadLetter(
            integration=CATALOG.name, source_id=str(orders[0]["id"]), business_date=DAY,
            stage="write", reason_code="quickbooks_6000", reason="rejected",
            payload=orders[0]))
        conn.execute(http_failures.insert(), [
            {"vendor": "quickbooks", "endpoint": "invoice.create", "status": 429,
             "error": "throttled", "retried": True, "occurred_at": now, "run_id": "nightly"},
            {"vendor": "shopify", "endpoint": "orders", "status": 401,
             "error": "bad token", "retried": False, "occurred_at": now, "run_id": "nightly"},
        ])
    unsent = {f"S{o['order_number']}" for o in orders[1:]}
    with engine.connect() as conn:
        frames = load_window(conn, CATALOG, DAY, DAY + timedelta(days=1), REALM)
        assert frames.accounted[["key", "reason_code"]].values.tolist() == [
            [f"S{orders[0]['order_number']}", "quickbooks_6000"]]
        assert reconcile_window(frames).counts["missing"] == 2
        assert _causes(conn, set()) == dict.fromkeys(unsent, "never_synced")
        assert _causes(conn, {"other-run"}) == dict.fromkeys(unsent, "never_synced")
        # Only the destination's failures count: Shopify's 401 is not an auth failure here.
        assert _causes(conn, {"nightly"}) == dict.fromkeys(unsent, "rate_limited")
    with engine.begin() as conn:
        conn.execute(oauth_tokens.insert().values(
            connection=f"quickbooks:{REALM}", refresh_token="dead", revoked=True,
            consecutive_failures=1, updated_at=now))
    with engine.connect() as conn:
        assert _causes(conn, {"nightly"}) == dict.fromkeys(unsent, "auth_failed")


def test_a_window_of_more_invoices_than_postgresql_takes_parameters(engine):
    """The ledger is looked up by the invoices' DocNumbers as one array parameter: a window of
    70,000 invoices (more than the 65,535 parameters a statement may bind) still loads."""
    invoices = [_invoice(str(i), f"S{1000 + i}") for i in range(70_000)]
    with engine.connect() as conn:
        frames = load_window(conn, CATALOG, DAY, DAY + timedelta(days=1), REALM,
                             invoices=invoices)
    assert len(frames.destination) == 70_000
    assert reconcile_window(frames).counts["extra"] == 70_000
