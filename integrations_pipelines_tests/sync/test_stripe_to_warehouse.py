"""Stripe's ledger into the warehouse, below Dagster: a day extracted from the sandbox over
HTTP, loaded with COPY + MERGE into typed tables on a real PostgreSQL, reconciled on what
Stripe states (objects, payouts, per-currency and per-category totals); a re-load writes
nothing, a changed object updates its row, a refused row is a dead letter."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from integrations_pipelines.mapping.stripe_to_warehouse import row_of, tables
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.reconciliation import stripe_to_warehouse as judge
from integrations_pipelines.sandbox.stripe_account import generate_account
from integrations_pipelines.sandbox.stripe_app import start_stripe
from integrations_pipelines.state import cursors
from integrations_pipelines.sync import stripe_to_warehouse as load
from integrations_pipelines.sync.dead_letters import open_letters
from integrations_pipelines.sync.stripe_changes import FEED, capture
from integrations_pipelines.sync.stripe_extraction import store_changed, store_window
from integrations_pipelines.vendors.contracts import Screened
from integrations_pipelines.vendors.errors import PermanentVendorError
from integrations_pipelines.vendors.stripe.client import connect
from integrations_pipelines.vendors.stripe.models import Charge
from integrations_pipelines.vendors.stripe.records import OBJECTS
from integrations_pipelines.vendors.stripe.settings import StripeSettings

START = date(2026, 11, 20)
DAY = date(2026, 11, 24)
ENTRY = StripeToWarehouseEntry(
    name="stripe_test", description="Stripe into the warehouse.", source="stripe",
    destination="warehouse", owner="team:analytics", owner_email="analytics@example.com",
    slack_channel="#analytics", partitions_start=START, schedule={"hour": 4, "minute": 0},
    freshness_sla_hours=26, expected_daily_volume=80,
    warehouse={"schema_name": "analytics_stripe", "table_prefix": "stripe_"})


@pytest.fixture
def stripe():
    server, store = start_stripe(generate_account(seed=11, start=START, days=6,
                                                  charges_per_day=80))
    yield server, store
    server.stop()


def _extract(engine, server, day: date = DAY) -> None:
    conn = connect(StripeSettings(api_key="sk_test_sandbox", base_url=server.url), engine)
    start = datetime.combine(day, datetime.min.time(), UTC)
    with conn.client.http:
        for resource in OBJECTS:
            store_window(engine, conn.client, ENTRY, resource, "default", day,
                         day + timedelta(days=1), (start, start + timedelta(days=1)), None)


def _judge(engine, day: date = DAY):
    end = day + timedelta(days=1)
    with engine.connect() as conn, engine.connect() as wconn:
        return (judge.reconcile(conn, wconn, ENTRY, day, end),
                judge.payout_balances(conn, wconn, ENTRY, day, end),
                judge.category_totals(conn, wconn, ENTRY, day, end),
                load.pending(conn, wconn, ENTRY, day, end))


def test_a_day_loads_reconciles_and_reloads_without_writing(engine, stripe):
    server, store = stripe
    assert load.ensure_schema(engine, ENTRY) == ["stripe_0001_tables",
                                                 "stripe_0002_daily_revenue"]
    assert load.ensure_schema(engine, ENTRY) == []  # no DDL once applied
    for day in (START + timedelta(days=n) for n in range((DAY - START).days)):
        _extract(engine, server, day)  # the days whose transactions DAY's payouts pay out
        load.load_window(engine, engine, ENTRY, day, day + timedelta(days=1))
    _extract(engine, server)
    first = load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1))
    expected = store.ledger.day_counts(DAY)
    assert {r: m.inserted for r, m in first.by_resource.items()} == expected
    report, payouts, totals, accounted = _judge(engine)
    assert report.discrepant_count == 0 and report.counts["ok"] == sum(expected.values())
    assert payouts and all(p.balanced for p in payouts), payouts
    assert totals and all(t.equal for t in totals)
    assert {t.currency for t in totals} >= {"usd", "eur"}
    assert accounted.pending == [] and accounted.loaded == sum(expected.values())

    again = load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1))
    assert again.total("written") == 0 and again.total("unchanged") == sum(expected.values())

    built = load.rebuild_daily_revenue(engine, ENTRY, DAY, DAY + timedelta(days=1))
    revenue = sa.Table("stripe_daily_revenue", sa.MetaData(schema="analytics_stripe"),
                       autoload_with=engine)
    with engine.connect() as conn:
        rows = {r.currency.strip(): r for r in conn.execute(sa.select(revenue))}
    usd = [t for t in store.ledger.objects["balance_transactions"].values()
           if t["currency"] == "usd" and t["type"] != "payout"
           and datetime.fromtimestamp(t["created"], UTC).date() == DAY]
    assert built == len(rows) and rows["usd"].net == sum(t["net"] for t in usd)
    assert load.rebuild_daily_revenue(engine, ENTRY, DAY, DAY + timedelta(days=1)) == 0
    assert rows["usd"].fees == sum(t["fee"] for t in usd)
    assert rows["usd"].gross_major * 100 == rows["usd"].gross


def test_a_change_after_the_day_is_caught_until_reloaded_and_a_hand_edit_is_wrong(engine,
                                                                                   stripe):
    server, store = stripe
    load.ensure_schema(engine, ENTRY)
    _extract(engine, server)
    load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1))
    charge = next(c for c in store.ledger.objects["charges"].values()
                  if datetime.fromtimestamp(c["created"], UTC).date() == DAY
                  and not c["amount_refunded"])
    # A refund two days later: the charge changes; the raw store learns it from Stripe.
    store.ledger.refund(charge["id"], charge["amount"] // 2, charge["created"] + 2 * 86400)
    _extract(engine, server)
    report = _judge(engine)[0]
    assert report.keys("wrong_values") == [charge["id"]]  # listed again: same version
    # The same change told by an event is a newer version of the charge: the row is stale.
    event = next(e for e in reversed(store.ledger.events) if e["type"] == "charge.refunded")
    screened = Screened(event["data"]["object"],
                        Charge.model_validate(event["data"]["object"]), None)
    store_changed(engine, ENTRY, "default", [("charges", screened, event["created"])], None,
                  DAY)
    assert _judge(engine)[0].keys("stale") == [charge["id"]]
    changed = load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1))
    assert changed.by_resource["charges"].updated == 1 and changed.total("inserted") == 0
    t = tables(ENTRY)["charges"]
    with engine.begin() as conn:
        held = conn.execute(sa.select(t.c.amount_refunded).where(t.c.id == charge["id"]))
        assert held.scalar_one() == charge["amount"] // 2
        conn.execute(t.update().where(t.c.id == charge["id"]).values(amount=1))
        conn.execute(t.delete().where(t.c.id != charge["id"], t.c.business_date == DAY)
                     .where(t.c.id.in_(sa.select(t.c.id).limit(1).scalar_subquery())))
    report, _, _, accounted = _judge(engine)
    assert report.keys("wrong_values") == [charge["id"]]
    assert len(report.keys("missing")) == 1 and accounted.pending == report.keys("missing")
    load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1),
                     only=set(report.source_ids("missing", "wrong_values", "stale")))
    assert _judge(engine)[0].discrepant_count == 0


def test_a_row_the_table_refuses_is_a_dead_letter_and_the_rest_load(engine, stripe):
    server, store = stripe
    load.ensure_schema(engine, ENTRY)
    txn = next(t for t in store.ledger.objects["balance_transactions"].values()
               if datetime.fromtimestamp(t["created"], UTC).date() == DAY)
    txn["amount"] = 2**63  # more than BIGINT holds
    _extract(engine, server)
    done = load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1))
    with engine.connect() as conn:
        letters = open_letters(conn, ENTRY.name)
    assert [letter.source_id for letter in letters] == [txn["id"]]
    assert letters[0].reason_code == "warehouse_rejected_value"
    assert "out of range" in letters[0].reason
    assert done.by_resource["balance_transactions"].inserted == \
        store.ledger.day_counts(DAY)["balance_transactions"] - 1
    report, _, totals, accounted = _judge(engine)
    assert report.discrepant_count == 0 and report.counts["dead_lettered"] == 1
    assert accounted.pending == [] and accounted.dead_lettered == 1
    assert not all(t.equal for t in totals)  # Stripe's sums still count the refused one


@pytest.mark.parametrize(("currency", "major"), [
    ("jpy", "1999"), ("krw", "1999"), ("bhd", "1.999"), ("kwd", "1.999"), ("usd", "19.99")])
def test_the_revenue_model_applies_the_currencys_exponent_only_at_the_edge(engine, currency,
                                                                           major):
    from decimal import Decimal

    from integrations_pipelines.mapping.stripe_to_warehouse import row_of

    load.ensure_schema(engine, ENTRY)
    created = int(datetime.combine(DAY, datetime.min.time(), UTC).timestamp()) + 60
    txn = {"id": "txn_1", "object": "balance_transaction", "amount": 1999, "fee": 0,
           "net": 1999, "currency": currency, "created": created, "available_on": created,
           "status": "available", "type": "charge", "reporting_category": "charge",
           "source": "ch_1"}
    with engine.begin() as conn:
        conn.execute(tables(ENTRY)["balance_transactions"].insert().values(
            row_of("balance_transactions", txn, "UTC", datetime.now(UTC))))
    load.rebuild_daily_revenue(engine, ENTRY, DAY, DAY + timedelta(days=1))
    revenue = sa.Table("stripe_daily_revenue", sa.MetaData(schema="analytics_stripe"),
                       autoload_with=engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(revenue)).one()
    assert (row.gross, row.net) == (1999, 1999)  # minor units, as Stripe states them
    assert row.gross_major == row.net_major == Decimal(major)


def _txn_rows(n: int, amount: int = 1000) -> list[dict]:
    """Balance-transaction rows through the pair's own row function."""
    start = int(datetime.combine(DAY, datetime.min.time(), UTC).timestamp())
    version = datetime(2026, 11, 25, tzinfo=UTC)
    return [row_of("balance_transactions", {
        "id": f"txn_race_{i:04d}", "amount": amount + i, "fee": 30, "net": amount + i - 30,
        "currency": "usd", "created": start + i, "available_on": start + 172800,
        "status": "pending", "type": "charge", "reporting_category": "charge",
        "source": f"ch_race_{i:04d}"}, "UTC", version) for i in range(n)]


def test_a_first_load_goes_straight_in_and_a_key_written_meanwhile_is_merged_once(engine):
    """A batch none of whose keys the table holds is COPYed straight into the table; when
    another writer commits one of those keys while the COPY runs, the COPY fails on the key
    and the batch is merged instead: every record one row, the other writer's row updated."""
    load.ensure_schema(engine, ENTRY)
    table = tables(ENTRY)["balance_transactions"]
    loader = load.table_loader(ENTRY, "balance_transactions")
    rows = _txn_rows(50)
    with engine.connect() as other:  # the change feed, writing one of the keys
        other.execute(table.insert().values({**rows[7], "amount": 1}))
        with engine.connect() as conn:
            pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
            done: list[Any] = []
            loading = threading.Thread(target=lambda: done.append(loader.load(conn, rows)))
            loading.start()
            waited = 0
            while not other.execute(sa.text(  # our COPY waits on the other's key
                    "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :p"),
                    {"p": pid}).scalar() and waited < 600:
                time.sleep(0.05)
                waited += 1
            other.commit()
            loading.join()
            conn.commit()
    assert done[0].inserted == 49 and done[0].updated == 1 and not done[0].refused
    with engine.connect() as conn:
        held = dict(conn.execute(sa.select(table.c.id, table.c.amount)).tuples().all())
    assert held == {r["id"]: r["amount"] for r in rows}
    with engine.connect() as conn:  # the same batch again: nothing to write
        again = loader.load(conn, rows)
        conn.commit()
    assert (again.written, again.unchanged) == (0, 50)
    fresh = [{**r, "id": r["id"].replace("race", "next")} for r in rows]
    with engine.connect() as conn:
        straight = loader.load(conn, fresh)
        conn.commit()
    assert (straight.inserted, straight.unchanged) == (50, 0)


def test_the_event_feed_applies_a_page_at_a_time_and_resumes_after_a_crash(engine, stripe):
    """Change capture walks Stripe's events a page at a time, oldest first, and moves the
    cursor past each page once it is in the warehouse: a run that dies between pages (here
    the key is revoked for the third page) leaves the cursor after the last applied page,
    and the next run resumes there; every changed object ends once, at its newest state."""
    server, store = stripe
    load.ensure_schema(engine, ENTRY)
    conn = connect(StripeSettings(api_key="sk_test_sandbox", base_url=server.url), engine)
    now = datetime.combine(START + timedelta(days=6), datetime.min.time(), UTC)
    since = datetime.combine(START, datetime.min.time(), UTC)
    events = [e for e in store.ledger.events if since.timestamp() <= e["created"]
              < (now - timedelta(seconds=5)).timestamp()]
    walk = -(-len(events) // 100)  # the pages of the walk to the oldest
    assert walk > 3
    store.revoke_after["events.list"] = walk + 1  # the oldest page, one more, then 401
    with conn.client.http, pytest.raises(PermanentVendorError):
        capture(engine, engine, conn.client, ENTRY, now, None, first_look=now - since)
    with engine.connect() as db:
        held = cursors.get(db, ENTRY.name, FEED)
    assert held is not None
    # Two pages applied: the oldest (what the walk from the newest left over), and the
    # hundred after it.
    applied = sorted(e["created"] for e in events)[(len(events) % 100 or 100) + 99]
    assert held.position == datetime.fromtimestamp(applied, UTC)
    store.revoke_after.clear()
    conn = connect(StripeSettings(api_key="sk_test_sandbox", base_url=server.url), engine)
    with conn.client.http:
        resumed = capture(engine, engine, conn.client, ENTRY, now, None,
                          first_look=now - since)
    assert resumed.cursor == now - timedelta(seconds=5)
    assert resumed.events < len(events) - 100  # it resumed after the applied pages
    newest: dict[str, dict] = {}
    for event in sorted(events, key=lambda e: e["created"]):
        newest[event["data"]["object"]["id"]] = event["data"]["object"]
    t = tables(ENTRY)["charges"]
    with engine.connect() as db:
        held_rows = dict(db.execute(sa.select(t.c.id, t.c.amount_refunded)).tuples().all())
    charges = {k: o for k, o in newest.items() if o["object"] == "charge"}
    assert held_rows == {k: o["amount_refunded"] for k, o in charges.items()}


def test_a_payout_of_earlier_days_not_loaded_is_pending_then_judged(engine, stripe):
    """A payout groups balance transactions of earlier days: loaded alone, its day cannot
    show the payout's sum, so those payouts are pending (with the days missing), not
    unbalanced; once the earlier days are loaded every payout is judged, and balances."""
    server, _ = stripe
    load.ensure_schema(engine, ENTRY)
    _extract(engine, server)
    load.load_window(engine, engine, ENTRY, DAY, DAY + timedelta(days=1))
    balances = _judge(engine)[1]
    pending = [b for b in balances if b.pending]
    assert pending, "the sandbox's payouts of the day pay earlier days' transactions"
    assert all(d < DAY.isoformat() or d == "not extracted" for b in pending
               for d in b.unloaded_days)
    assert all(b.balanced for b in balances if not b.pending)
    for n in range((DAY - START).days):
        day = START + timedelta(days=n)
        _extract(engine, server, day)
        load.load_window(engine, engine, ENTRY, day, day + timedelta(days=1))
    balances = _judge(engine)[1]
    assert balances and not any(b.pending for b in balances)
    assert all(b.balanced for b in balances)
