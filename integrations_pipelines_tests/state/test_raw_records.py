"""The one raw store: a replaced window holds one row per record, an older version never
replaces a newer one, kinds (system, record type, account) never see each other's rows, and
migration 0008 carries every row of the two vendor tables it replaces."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from alembic import command

from integrations_pipelines import local_postgres
from integrations_pipelines.state import raw
from integrations_pipelines.state.db import alembic_config, engine_for
from integrations_pipelines.vendors.quickbooks.records import (
    VOIDED,
    invoice_record,
    invoices_kind,
)
from integrations_pipelines.vendors.shopify.records import ORDERS

DAY = date(2026, 11, 9)
NEXT = DAY + timedelta(days=1)
T0 = datetime(2026, 11, 9, 12, tzinfo=UTC)


def _order(order_id: int, version: datetime, day: date = DAY, **payload: Any) -> raw.RawRecord:
    return raw.RawRecord(record_key=str(order_id), business_date=day, version=version,
                         facts={"created_at": T0.isoformat()},
                         payload={"id": order_id, "updated_at": version.isoformat(), **payload})


def _invoice(ident: str, doc: str, note: str = "", updated: datetime = T0) -> dict[str, Any]:
    return {"Id": ident, "DocNumber": doc, "TxnDate": DAY.isoformat(), "SyncToken": "0",
            "TotalAmt": 10.5, "CurrencyRef": {"value": "USD"}, "PrivateNote": note,
            "MetaData": {"LastUpdatedTime": updated.isoformat()}}


def test_a_replay_of_an_unchanged_window_writes_nothing(engine: sa.Engine) -> None:
    orders = [_order(n, T0 + timedelta(seconds=n), note=f"order {n} \t\\ \u00e9 \U0001f600")
              for n in range(1, 301)]
    orders[5] = _order(6, T0, big=2**70)  # an integer beyond 64 bits survives too
    with engine.begin() as conn:
        first = raw.replace_window(conn, ORDERS, DAY, NEXT, orders, "first")
    with engine.begin() as conn:
        replay = raw.replace_window(conn, ORDERS, DAY, NEXT, orders, "replay")
        changed = raw.replace_window(conn, ORDERS, DAY, NEXT, [
            *orders[:-1], _order(300, T0 + timedelta(hours=1), note="refunded")], "changed")
        newer = raw.upsert_newer(conn, ORDERS, [orders[0], _order(2, T0 - timedelta(hours=1))],
                                 "late page")
        stored = {r.record_key: r for r in raw.window(conn, ORDERS, DAY, NEXT)}
    assert (first.written, first.deleted) == (300, 0)
    assert (replay.written, replay.deleted) == (0, 0)
    assert (changed.written, changed.deleted) == (1, 0)
    assert newer.written == 0  # the same record again, and an older version: nothing written
    assert stored["300"].payload["note"] == "refunded" and stored["300"].run_id == "changed"
    assert stored["1"].payload == orders[0].payload  # text that COPY must escape survives
    assert stored["6"].payload["big"] == 2**70
    assert {r.run_id for k, r in stored.items() if k != "300"} == {"first"}


def test_replacing_a_window_leaves_one_row_per_record(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        raw.replace_window(conn, ORDERS, DAY, NEXT, [_order(1, T0), _order(2, T0)], "first")
        # A re-run, the same order twice in one read (a page repeated), a new order: one row
        # each, the newest of a repeated one kept.
        again = raw.replace_window(conn, ORDERS, DAY, NEXT, [
            _order(2, T0), _order(10, T0 + timedelta(minutes=5)), _order(10, T0),
            _order(9, T0)], "second")
        stored = raw.window(conn, ORDERS, DAY, NEXT)
    assert [r.record_key for r in stored] == ["2", "9", "10"]  # numeric ids in numeric order
    # Order 2 is stored as it is: untouched, still the first run's; 9 and 10 are new, 1 gone.
    assert [r.run_id for r in stored] == ["first", "second", "second"]
    assert (again.written, again.deleted) == (2, 1)
    assert stored[-1].version == T0 + timedelta(minutes=5)
    with engine.connect() as conn:
        assert raw.count_window(conn, ORDERS, DAY, NEXT) == 3
        assert raw.counts_by_day(conn, ORDERS, DAY - timedelta(days=1), NEXT) == {DAY: 3}
        assert raw.window(conn, ORDERS, NEXT, NEXT + timedelta(days=1)) == []


def test_a_record_moved_to_another_day_moves_with_the_window(engine: sa.Engine) -> None:
    """An invoice whose TxnDate changed is read back under its new day: still one row."""
    kind = invoices_kind("realm-1")
    moved = _invoice("7", "S7") | {"TxnDate": NEXT.isoformat()}
    with engine.begin() as conn:
        raw.replace_window(conn, kind, DAY, NEXT, [invoice_record(_invoice("7", "S7"))], None)
        raw.replace_window(conn, kind, NEXT, NEXT + timedelta(days=1),
                           [invoice_record(moved)], None)
        assert raw.window(conn, kind, DAY, NEXT) == []
        [row] = raw.window(conn, kind, DAY, NEXT + timedelta(days=1))
    assert row.business_date == NEXT


def test_an_older_version_never_replaces_a_newer_one(engine: sa.Engine) -> None:
    newer, older = T0 + timedelta(hours=1), T0
    with engine.begin() as conn:
        raw.upsert_newer(conn, ORDERS, [_order(5, newer, note="refunded")], "webhook")
        raw.upsert_newer(conn, ORDERS, [_order(5, older, note="original")], "late-poll")
        [kept] = raw.records_by_key(conn, ORDERS, ["5"])
        assert (kept.version, kept.payload["note"], kept.run_id) == (newer, "refunded", "webhook")
        # A newer one does replace it, whatever its day; the same record again writes
        # nothing; the same version with other content (a vendor's fix) is stored.
        later = newer + timedelta(minutes=1)
        raw.upsert_newer(conn, ORDERS, [_order(5, later, day=NEXT, note="cancelled")], "poll")
        again = raw.upsert_newer(conn, ORDERS, [_order(5, later, day=NEXT, note="cancelled")],
                                 "again")
        [kept] = raw.records_by_key(conn, ORDERS, ["5", "404"])
        assert (kept.version, kept.business_date, kept.payload["note"], kept.run_id) == (
            later, NEXT, "cancelled", "poll")
        assert again.written == 0
        fixed = raw.upsert_newer(conn, ORDERS, [_order(5, later, day=NEXT, note="cancelled.")],
                                 "fix")
        [kept] = raw.records_by_key(conn, ORDERS, ["5"])
    assert fixed.written == 1 and (kept.payload["note"], kept.run_id) == ("cancelled.", "fix")


def test_kinds_do_not_see_each_others_rows(engine: sa.Engine) -> None:
    """Shopify orders and the invoices of two QuickBooks companies share keys and days."""
    books_a, books_b = invoices_kind("realm-a"), invoices_kind("realm-b")
    with engine.begin() as conn:
        raw.replace_window(conn, ORDERS, DAY, NEXT, [_order(1, T0), _order(2, T0)], None)
        raw.replace_window(conn, books_a, DAY, NEXT, [
            invoice_record(_invoice("1", "S1")), invoice_record(_invoice("2", "S1")),
            invoice_record(_invoice("3", "S1", note="Voided - shopify:order:1"))], None)
        raw.replace_window(conn, books_b, DAY, NEXT, [invoice_record(_invoice("1", "S9"))],
                           None)
        # Replacing one kind's window touches no other kind.
        raw.replace_window(conn, books_b, DAY, NEXT, [invoice_record(_invoice("2", "S8"))],
                           None)
        raw.upsert_newer(conn, books_a, [invoice_record(_invoice("1", "S1"))], None)
    with engine.connect() as conn:
        assert [r.record_key for r in raw.window(conn, ORDERS, DAY, NEXT)] == ["1", "2"]
        a = raw.window(conn, books_a, DAY, NEXT)
        assert [(r.record_key, r.external_key) for r in a] == [("1", "S1"), ("2", "S1"),
                                                               ("3", "S1")]
        assert [r.external_key for r in raw.window(conn, books_b, DAY, NEXT)] == ["S8"]
        assert [r.kind for r in raw.records_by_key(conn, books_b, ["1", "2", "3"])] == [books_b]
        assert len(raw.records_by_key(conn, ORDERS, ["1", "2", "3"])) == 2
        every = raw.window_of_every_account(conn, "quickbooks", "invoices", DAY, NEXT)
        assert [(r.record_key, r.kind.account) for r in every] == [
            ("1", "realm-a"), ("2", "realm-a"), ("2", "realm-b"), ("3", "realm-a")]
        # The facts other code filters on: a voided copy is no duplicate.
        assert a[2].facts == {"doc_number": "S1", "sync_token": "0", "currency": "USD",
                              "total_amt": "10.5", VOIDED: True}
        assert raw.duplicated_external_keys(conn, books_a, DAY, NEXT) == [("S1", 3)]
        assert raw.duplicated_external_keys(conn, books_a, DAY, NEXT,
                                            unless_fact=VOIDED) == [("S1", 2)]
        assert raw.duplicated_external_keys(conn, books_b, DAY, NEXT) == []


@pytest.fixture
def bare_url(pg_base_url: str) -> Iterator[str]:
    """A new database with no schema: the migrations are applied by the test."""
    name = f"migrate_{uuid.uuid4().hex[:12]}"
    url = local_postgres.ensure_database(pg_base_url, name)
    yield url
    engine_for(url).dispose()
    local_postgres.drop_database(pg_base_url, name)


def test_migration_0008_copies_the_vendor_tables_and_back(bare_url: str) -> None:
    cfg = alembic_config(bare_url)
    command.upgrade(cfg, "0007")
    engine = engine_for(bare_url)
    voided = {"Id": "31", "DocNumber": "S1002", "PrivateNote": "Voided - shopify:order:9",
              "MetaData": {"LastUpdatedTime": "2026-11-09T10:00:00-08:00"}}
    with engine.begin() as conn:
        conn.execute(sa.text("""
            INSERT INTO raw_shopify_orders (order_id, business_date, created_at, updated_at,
                                            payload, extracted_at, run_id)
            VALUES (9, :day, :t0, :t1, '{"id": 9, "note": "x"}', :t2, 'nightly'),
                   (10, :day, :t0, :t0, '{"id": 10}', :t2, NULL)
        """), {"day": DAY, "t0": T0, "t1": T0 + timedelta(hours=1),
               "t2": T0 + timedelta(hours=2)})
        conn.execute(sa.text("""
            INSERT INTO raw_quickbooks_invoices (realm_id, invoice_id, doc_number, txn_date,
                                                 sync_token, currency, total_amt, voided,
                                                 payload, read_at)
            VALUES ('realm-1', '30', 'S1001', :day, '3', 'USD', 12.50, false,
                    '{"Id": "30", "DocNumber": "S1001"}', :t2),
                   ('realm-2', '31', 'S1002', :day, '1', NULL, 0, true,
                    CAST(:voided AS jsonb), :t2)
        """), {"day": DAY, "t2": T0 + timedelta(hours=2),
               "voided": json.dumps(voided)})

    command.upgrade(cfg, "head")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        assert "raw_records" in tables
        assert not tables & {"raw_shopify_orders", "raw_quickbooks_invoices"}
        orders = raw.window(conn, ORDERS, DAY, NEXT)
        realm_1 = raw.window(conn, invoices_kind("realm-1"), DAY, NEXT)
        realm_2 = raw.window(conn, invoices_kind("realm-2"), DAY, NEXT)
    assert [(o.record_key, o.version, o.payload, o.run_id) for o in orders] == [
        ("9", T0 + timedelta(hours=1), {"id": 9, "note": "x"}, "nightly"),
        ("10", T0, {"id": 10}, None)]
    assert datetime.fromisoformat(orders[0].facts["created_at"]) == T0
    assert orders[0].extracted_at == T0 + timedelta(hours=2)
    [paid] = realm_1
    assert (paid.record_key, paid.external_key, paid.business_date) == ("30", "S1001", DAY)
    assert paid.version == T0 + timedelta(hours=2)  # no LastUpdatedTime: read at
    assert paid.facts == {"doc_number": "S1001", "sync_token": "3", "currency": "USD",
                          "total_amt": "12.50", "voided": False}
    [void] = realm_2
    assert void.version == datetime(2026, 11, 9, 18, tzinfo=UTC)  # its LastUpdatedTime
    assert void.facts["voided"] is True and void.payload == voided

    command.downgrade(cfg, "0007")
    with engine.connect() as conn:
        assert "raw_records" not in sa.inspect(conn).get_table_names()
        back = conn.execute(sa.text(
            "SELECT order_id, created_at, updated_at, run_id FROM raw_shopify_orders "
            "ORDER BY order_id")).all()
        books = conn.execute(sa.text(
            "SELECT realm_id, invoice_id, doc_number, sync_token, currency, total_amt, voided "
            "FROM raw_quickbooks_invoices ORDER BY invoice_id")).all()
    assert [tuple(r) for r in back] == [(9, T0, T0 + timedelta(hours=1), "nightly"),
                                        (10, T0, T0, None)]
    assert [(r.realm_id, r.invoice_id, r.doc_number, r.sync_token, r.currency,
             str(r.total_amt), r.voided) for r in books] == [
        ("realm-1", "30", "S1001", "3", "USD", "12.50", False),
        ("realm-2", "31", "S1002", "1", None, "0.00", True)]
    command.upgrade(cfg, "head")  # and up again


def test_a_first_load_is_copied_straight_in_until_a_page_meets_a_stored_key(
        engine: sa.Engine) -> None:
    """A window with nothing stored takes its pages by COPY into the table; a page holding a
    key stored under another day goes the guarded way, and the pages copied before it are
    still the window's (not deleted as vanished when the window is finished)."""
    kind = invoices_kind("realm-2")
    with engine.begin() as conn:  # invoice 7 stored under the day before
        raw.replace_window(conn, kind, DAY - timedelta(days=1), DAY, [invoice_record(
            _invoice("7", "S7") | {"TxnDate": (DAY - timedelta(days=1)).isoformat()})], None)
    with engine.connect() as conn:
        pages = raw.WindowReplacement(conn, kind, DAY, NEXT, "first")
        assert pages.direct  # nothing stored in the window yet
        assert pages.add([invoice_record(_invoice(str(n), f"S{n}")) for n in (1, 2)]) == 2
        assert pages.direct
        # Invoice 7 moved into the day: its page is merged, the rest goes that way too.
        assert pages.add([invoice_record(_invoice(n, f"S{n}")) for n in ("3", "7")]) == 2
        assert not pages.direct
        done = pages.finish()
        conn.commit()
        stored = raw.window(conn, kind, DAY - timedelta(days=1), NEXT)
    assert (pages.written, done.deleted) == (4, 0)
    assert [(r.record_key, r.business_date) for r in stored] == [
        ("1", DAY), ("2", DAY), ("3", DAY), ("7", DAY)]
    with engine.connect() as conn:  # a replay finds the window stored: the guarded way
        replay = raw.WindowReplacement(conn, kind, DAY, NEXT, "replay")
        assert not replay.direct
        assert replay.add([invoice_record(_invoice(str(n), f"S{n}")) for n in (1, 2)]) == 0
        assert replay.finish().deleted == 2  # 3 and 7 were not read again
        conn.commit()


def _varied(account: str) -> tuple[raw.RecordKind, list[raw.RawRecord]]:
    """Records with what a COPY must carry as it is: text to escape, non-ASCII and emoji,
    NULLs, facts and none, an integer beyond 64 bits, decimals and dates as text, a version
    in another time zone and none (the extraction time stands in), a key given twice."""
    kind = raw.RecordKind("shopify", "orders", account)
    pacific = timezone(timedelta(hours=-8))
    records = [
        _order(1, T0, note="tab\there, newline\nthere, back\\slash, quote \"'",
               customer="Zoë Ångström 北京 \U0001f600", tags=[None, True, 1.5, "\u00e9"]),
        _order(2, T0.astimezone(pacific), big=2**70, nested={"a": {"b": [1, {"c": None}]}}),
        raw.RawRecord(record_key="3", business_date=DAY, version=None,
                      payload={"id": 3, "total": Decimal("12.50"), "day": DAY},
                      external_key="S\u00e93", facts={"total": "12.50", "voided": False}),
        raw.RawRecord(record_key="ключ-4", business_date=DAY, version=T0, payload={}),
        _order(5, T0 + timedelta(minutes=5), note="newest"),
        _order(5, T0, note="older, given later"),
    ]
    return kind, records


def _rows_of(conn: sa.Connection, kind: raw.RecordKind) -> dict[str, tuple[Any, ...]]:
    """A kind's rows as PostgreSQL holds them (the jsonb as its text), by key."""
    rows = conn.execute(sa.text(
        "SELECT record_key, business_date, external_key, facts::text, payload::text, run_id,"
        " version = extracted_at AS versioned_by_extraction,"
        " CASE WHEN version <> extracted_at THEN version END FROM raw_records "
        "WHERE system = :system AND record_type = :record_type AND account = :account"),
        {"system": kind.system, "record_type": kind.record_type, "account": kind.account})
    return {row[0]: tuple(row[1:]) for row in rows}


def test_a_first_load_by_binary_copy_stores_what_the_text_copy_stores(
        engine: sa.Engine) -> None:
    """The first load's binary COPY and the guarded merge's text COPY (staging) store the
    same rows: the same jsonb, columns, NULLs and text, the newest of a key given twice."""
    direct_kind, records = _varied("direct")
    merged_kind, _ = _varied("merged")
    with engine.begin() as conn:
        pages = raw.WindowReplacement(conn, direct_kind, DAY, NEXT, "load")
        assert pages.direct and pages.add(records) == 5 and pages.direct
        assert pages.finish() == raw.WindowWrite(written=5, deleted=0)
        assert raw.upsert_newer(conn, merged_kind, records, "load").written == 5
    with engine.connect() as conn:
        direct, merged = _rows_of(conn, direct_kind), _rows_of(conn, merged_kind)
    assert direct == merged
    assert sorted(direct) == ["1", "2", "3", "5", "ключ-4"]
    assert [direct[k][-3:] for k in ("1", "3")] == [("load", False, T0), ("load", True, None)]
    assert direct["3"][1] == "S\u00e93" and direct["1"][1] is None
    with engine.connect() as conn:
        stored = {r.record_key: r for r in raw.window(conn, direct_kind, DAY, NEXT)}
    for record in records[:4]:  # JSON as the vendor's, decimals and dates as text
        assert stored[record.record_key].payload == json.loads(
            json.dumps(record.payload, default=str))
    assert stored["3"].facts == {"total": "12.50", "voided": False}
    assert stored["3"].payload == {"id": 3, "total": "12.50", "day": DAY.isoformat()}
    assert stored["2"].payload["big"] == 2**70
    assert (stored["5"].version, stored["5"].payload["note"]) == (T0 + timedelta(minutes=5),
                                                                 "newest")


def test_a_version_without_a_time_zone_is_read_in_the_sessions_zone_on_a_first_load(
        engine: sa.Engine) -> None:
    """A version without a time zone cannot go by binary COPY as it is: that page goes by
    text COPY, still straight into the table, and PostgreSQL reads the version in the
    session's time zone, as the guarded merge's staging does."""
    naive = datetime(2026, 11, 9, 9, 30)
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL TIME ZONE 'America/Los_Angeles'"))
        pages = raw.WindowReplacement(conn, ORDERS, DAY, NEXT, "load")
        assert pages.add([_order(1, T0), _order(2, naive, note="\U0001f600")]) == 2
        assert pages.direct  # the page still went straight in
        assert raw.upsert_newer(conn, invoices_kind("staged"), [
            raw.RawRecord(record_key="2", business_date=DAY, version=naive,
                          payload={"id": 2})], None).written == 1
        stored = {r.record_key: r for r in raw.window(conn, ORDERS, DAY, NEXT)}
        [staged] = raw.window(conn, invoices_kind("staged"), DAY, NEXT)
    pacific = naive.replace(tzinfo=ZoneInfo("America/Los_Angeles"))
    assert stored["2"].version == staged.version == pacific
    assert stored["2"].payload["note"] == "\U0001f600" and stored["1"].version == T0


def test_a_large_first_load_leaves_statistics_that_join_a_replay_by_primary_key(
        engine: sa.Engine) -> None:
    """A replay's page is joined to the table by key. Right after a large first load of a
    kind the planner knew nothing of, stale statistics made PostgreSQL join through the
    business-day index (every row of the kind read per staged row: 600 rows/s on a replay);
    the window that changed a large share of the table refreshes them."""
    kind = raw.RecordKind("bench", "orders", f"stats-{uuid.uuid4().hex[:8]}")
    records = [_order(n, T0 + timedelta(seconds=n)) for n in range(1, 3_001)]
    with engine.connect() as conn:
        replacement = raw.WindowReplacement(conn, kind, DAY, NEXT, "first")
        for at in range(0, len(records), 250):  # pages committed one by one, as extraction
            replacement.add(records[at:at + 250])
            conn.commit()
        assert replacement.finish().written == 3_000
        conn.commit()
    with engine.begin() as conn:
        raw.stage(conn, raw.insert_rows(kind, records[:250], "replay"))
        match = " AND ".join(f"t.{c} = s.{c}" for c in ("system", "record_type", "account",
                                                         "record_key"))
        plan = "\n".join(conn.execute(sa.text(
            "EXPLAIN UPDATE raw_records t SET run_id = s.run_id "
            f"FROM raw_records_stage s WHERE {match}")).scalars())
        known = conn.execute(sa.text(
            "SELECT reltuples FROM pg_class WHERE oid = 'raw_records'::regclass")).scalar_one()
    assert known >= 3_000  # the planner knows the rows the first load wrote
    # never an index that narrows to the kind only, with the key checked row by row
    assert "Filter: (s.record_key = record_key)" not in plan, plan


def test_only_records_with_an_external_key_are_in_its_index(engine: sa.Engine) -> None:
    """Migration 0009: orders carry no external key and cost that index nothing; a lookup
    by external key (an invoice's DocNumber) still finds its records."""
    with engine.begin() as conn:
        definition = conn.execute(sa.text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_raw_records_external_key'"
        )).scalar_one()
        realm = f"realm-{uuid.uuid4().hex[:8]}"
        kind = invoices_kind(realm)
        raw.replace_window(conn, kind, DAY, NEXT, [
            invoice_record(_invoice("1", "S1")), invoice_record(_invoice("2", "S1")),
            invoice_record(_invoice("3", "S2"))], "run")
        duplicated = raw.duplicated_external_keys(conn, kind, DAY, NEXT)
    assert definition.endswith("WHERE (external_key IS NOT NULL)")
    assert duplicated == [("S1", 2)]
