"""The window frames the reconciliation check reads from the store: which invoices belong to
the integration, which voided copies are settled, which orders are accounted for by a dead
letter, and which failed calls and token states explain missing invoices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.reconciliation.frames import WindowChunks, WindowFrames
from integrations_pipelines.reconciliation.shopify_to_quickbooks import (
    destination_frame,
    load_window,
    source_frame,
)
from integrations_pipelines.reconciliation.window import reconcile_window
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.state import raw
from integrations_pipelines.state.key_chunks import key_chunk, sql_chunk
from integrations_pipelines.state.tables import http_failures, oauth_tokens, sync_ledger
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.vendors.quickbooks.records import invoice_record, invoices_kind
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


def test_postgresql_and_python_put_every_key_in_the_same_chunk(engine):
    """The chunk SQL computes for a stored record's key is the one Python computes for the
    frame's key, for any text (DocNumbers, the name of an invoice without one, unicode)."""
    keys = ["S1001", "S1002", "S99999999999999999", "(no DocNumber: invoice 5)", "", "é😀",
            *(f"S{n}" for n in range(2000, 2200))]
    with engine.connect() as conn:
        for chunks in (2, 3, 7, 40):
            sql = conn.execute(sa.select(*(
                sql_chunk(sa.literal(k, sa.Text), chunks) for k in keys))).one()
            assert list(sql) == [key_chunk(k, chunks) for k in keys]
            assert set(sql) == set(range(chunks))  # 206 keys reach every chunk


def test_a_window_read_in_key_hash_chunks_reports_what_the_whole_window_does(engine):
    """The reader's chunked path (SQL chunks of the stored orders, invoices and ledger rows)
    classifies, explains and samples a window exactly as the whole window read at once."""
    orders = generate_shop(seed=5, start=DAY, days=1, orders_per_day=40)
    invoices = []
    for i, order in enumerate(orders):
        doc, ident = f"S{order['order_number']}", str(100 + i)
        if i % 9 == 3:
            continue  # missing (a few with a ledger row: deleted by hand)
        invoice = _invoice(ident, doc, TxnDate=DAY.isoformat(),
                           note=f"shopify:order:{order['id']} #{order['order_number']}")
        want = source_frame([Order.model_validate(order)], CATALOG).iloc[0]
        if i % 4 and not want["voided"]:  # as the sync wrote it (else: wrong values)
            invoice |= {"CurrencyRef": {"value": want["currency"]}, "TotalAmt": want["total"],
                        "TxnTaxDetail": {"TotalTax": want["tax"]},
                        "CustomerRef": {"value": "1", "name": f"Ann {want['customer_tag']}"}}
        invoices.append(invoice)
        if i % 11 == 5:  # a second live invoice of the order: a duplicate
            invoices.append(invoice | {"Id": str(500 + i)})
    invoices.append(_invoice("900", "S99001", TxnDate=DAY.isoformat()))  # made by hand: extra
    # order 3's invoice (the ledger's 103), renumbered by hand: missing S<3> plus extra S77777
    invoices.append(_invoice("103", "S77777", TxnDate=DAY.isoformat()))
    invoices.append(_invoice("901", None, TxnDate=DAY.isoformat(),  # no DocNumber, our marker
                             note=f"shopify:order:{orders[1]['id']} #{orders[1]['order_number']}"))
    synced = datetime(2026, 11, 9, 23, tzinfo=UTC)
    with engine.begin() as conn:
        _store_orders(conn, orders)
        raw.replace_window(conn, invoices_kind(REALM), DAY, DAY + timedelta(days=1),
                           [invoice_record(i) for i in invoices], "read-back")
        conn.execute(sync_ledger.insert(), [
            {"integration": CATALOG.name, "source_id": str(o["id"]), "business_date": DAY,
             "source_version": synced, "destination_id": str(100 + i),
             "destination_key": f"S{o['order_number']}", "payload_hash": "h",
             "status": "synced", "synced_at": synced}
            for i, o in enumerate(orders) if i % 3 == 0])
        dead_letters.record(conn, dead_letters.DeadLetter(
            integration=CATALOG.name, source_id=str(orders[12]["id"]), business_date=DAY,
            stage="map", reason_code="no_line_items", reason="no lines", payload=orders[12]))

    with engine.connect() as conn:
        whole_frames = load_window(conn, CATALOG, DAY, DAY + timedelta(days=1), REALM)
        assert isinstance(whole_frames, WindowFrames)
        whole = reconcile_window(whole_frames)
        chunked = load_window(conn, CATALOG, DAY, DAY + timedelta(days=1), REALM, chunk_keys=10)
        assert isinstance(chunked, WindowChunks) and chunked.chunks == 5
        split = reconcile_window(chunked)
        given = reconcile_window(load_window(conn, CATALOG, DAY, DAY + timedelta(days=1), REALM,
                                             invoices=invoices, chunk_keys=10))

    counts = whole.counts
    assert counts["missing"] >= 3 and counts["duplicate"] >= 3 and counts["extra"] == 3
    renumbered = whole.diagnosis.loc[whole.diagnosis["cause_code"] == "renumbered_in_destination"]
    assert sorted(renumbered["key"]) == sorted([f"S{orders[3]['order_number']}", "S77777"])
    assert counts["wrong_values"] > 0 and counts["ok"] > 10 and counts["dead_lettered"] == 1
    for report in (split, given):
        assert report.chunks == 5
        assert report.counts == counts
        assert report.destination_count == whole.destination_count == len(
            whole.frames.destination)
        assert report.frames.source_count == whole.frames.source_count == len(orders)
        assert report.diagnosis.equals(whole.diagnosis)
        assert report.examples_markdown(50) == whole.examples_markdown(50)
        assert report.result.differing_fields() == whole.result.differing_fields()
        assert report.source_ids("missing", "wrong_values") == whole.source_ids(
            "missing", "wrong_values")
        assert report.duplicate_records().equals(whole.duplicate_records())
    # the chunks hold the discrepancies' rows only, the whole window every record
    assert len(split.frames.source) < len(whole.frames.source)
