"""Dead letters replay through the current mapping, idempotently: as a library call, from
the command line and as a Dagster job.

The letters are real: a misconfigured integration (its sales item does not exist in
QuickBooks) makes QuickBooks reject every invoice, so each order is dead-lettered with
QuickBooks' reason. The fix is the correct configuration (the catalog's); the replay then
writes each invoice exactly once, and what still cannot be synced stays open with its reason.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from integrations_pipelines.catalog import integration
from integrations_pipelines.cli import main
from integrations_pipelines.state.tables import dead_letters as letters_table
from integrations_pipelines.state.tables import sync_ledger
from integrations_pipelines.sync import dead_letters
from integrations_pipelines.sync.replay import LetterFilter, replay_dead_letters
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient, connect
from integrations_pipelines.vendors.shopify.models import Order
from integrations_pipelines_tests.builders import UNMAPPABLE_EDGES, clean_orders
from integrations_pipelines_tests.support import (
    definitions_for,
    sandbox_quickbooks_settings,
    sandbox_resources,
)

DAY = date(2026, 11, 2)
INTEGRATION = integration("shopify_to_quickbooks")
MISCONFIGURED = INTEGRATION.model_copy(update={"quickbooks": INTEGRATION.quickbooks.model_copy(
    update={"sales_item_id": "99"})})
REJECTED = "quickbooks_2500"  # Invalid Reference Id: item 99 does not exist


def shop() -> list[dict]:
    """Two days of orders; one order loses its line items (unmappable by any mapping)."""
    orders = clean_orders(21, DAY, 6, days=2, without=UNMAPPABLE_EDGES | {"test_order"})
    orders[1]["line_items"] = []
    return orders


def client_for(server, books, engine) -> QuickBooksClient:
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    return connect(sandbox_quickbooks_settings(server, books), engine,
                   contracts=ContractGuard(engine))


def misconfigured_sync(engine, qbo: QuickBooksClient, orders: list[dict]) -> None:
    outcome = InvoiceSync(engine, qbo, MISCONFIGURED).run(
        (Order.model_validate(o), o) for o in orders)
    assert outcome.dead_lettered == len(orders) and outcome.created == 0


def open_letters(engine) -> dict[str, sa.Row]:
    with engine.connect() as conn:
        return {r.source_id: r for r in dead_letters.open_letters(conn, INTEGRATION.name)}


def live_invoices_by_doc(books) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for invoice in books.all_invoices():
        if invoice["_sandbox_status"] != "deleted":
            found.setdefault(invoice["DocNumber"], []).append(invoice["Id"])
    return found


def test_replay_after_a_fix_writes_each_invoice_once(engine, qbo_sandbox) -> None:
    server, books = qbo_sandbox
    orders = shop()
    qbo = client_for(server, books, engine)
    misconfigured_sync(engine, qbo, orders)
    broken = {str(o["id"]) for o in orders if not o["line_items"]}
    before = open_letters(engine)
    assert {r.reason_code for k, r in before.items() if k not in broken} == {REJECTED}
    assert before[next(iter(broken))].reason_code == "no_line_items"
    # An order recorded when Shopify sent a changed type: the current model still rejects it.
    drifted = {**orders[2], "id": 1, "total_price": {"amount": "1.00", "currency_code": "USD"}}
    with engine.begin() as conn:
        dead_letters.record(conn, dead_letters.DeadLetter(
            INTEGRATION.name, "1", DAY, "validate", "contract_violation", "total_price", drifted))

    sync = InvoiceSync(engine, qbo, INTEGRATION)
    first_day = replay_dead_letters(engine, sync, Order, LetterFilter.from_days(
        INTEGRATION.name, REJECTED, DAY.isoformat(), DAY.isoformat()))
    day_one = [o for o in orders if o["created_at"].startswith(DAY.isoformat())]
    assert first_day.selected == len([o for o in day_one if str(o["id"]) not in broken])
    assert first_day.resolved == first_day.selected and first_day.still_failing == 0
    assert first_day.sync.created + first_day.sync.voided >= first_day.selected

    everything = replay_dead_letters(engine, sync, Order, LetterFilter(INTEGRATION.name))
    assert everything.still_failing == 2
    assert everything.still_failing_reasons == {"no_line_items": 1, "contract_violation": 1}
    assert replay_dead_letters(engine, sync, Order,
                               LetterFilter(INTEGRATION.name)).resolved == 0

    by_doc = live_invoices_by_doc(books)
    synced = [o for o in orders if str(o["id"]) not in broken]
    assert sorted(by_doc) == sorted(f"S{o['order_number']}" for o in synced)
    assert all(len(ids) == 1 for ids in by_doc.values()), by_doc
    remaining = open_letters(engine)
    assert set(remaining) == broken | {"1"}
    assert all(r.attempts == 3 for r in remaining.values())  # recorded, then 2 replays
    with engine.connect() as conn:
        ledger = {r.source_id: r.destination_key for r in conn.execute(sa.select(sync_ledger))}
        resolved = conn.execute(sa.select(sa.func.count()).where(
            letters_table.c.resolved_at.is_not(None))).scalar_one()
    assert ledger == {str(o["id"]): f"S{o['order_number']}" for o in synced}
    assert resolved == len(synced)


def test_cli_lists_and_replays(engine, database_url, qbo_sandbox, monkeypatch, capsys) -> None:
    server, books = qbo_sandbox
    orders = shop()
    misconfigured_sync(engine, client_for(server, books, engine), orders)
    for name, value in {"DATABASE_URL": database_url, "QBO_BASE_URL": server.url,
                        "QBO_TOKEN_URL": f"{server.url}/oauth2/v1/tokens/bearer",
                        "QBO_CLIENT_ID": books.tokens.client_id,
                        "QBO_CLIENT_SECRET": books.tokens.client_secret,
                        "QBO_REALM_ID": books.realm_id}.items():
        monkeypatch.setenv(name, value)

    assert main(["dead-letters", "list", "--reason", "no_line_items"]) == 0
    listed = capsys.readouterr().out
    assert "1 open: no_line_items 1" in listed and str(orders[1]["id"]) in listed

    second_day = (DAY + timedelta(days=1)).isoformat()
    assert main(["dead-letters", "replay", "--reason", REJECTED, "--from", second_day]) == 0
    replayed = capsys.readouterr().out
    day_two = [o for o in orders if o["created_at"].startswith(second_day)]
    assert f"{len(day_two)} dead letters replayed: {len(day_two)} resolved" in replayed

    assert main(["dead-letters", "replay"]) == 1  # the order without lines still fails
    assert "still failing (no_line_items: 1)" in capsys.readouterr().out
    assert all(len(ids) == 1 for ids in live_invoices_by_doc(books).values())
    assert main(["dead-letters", "list", "--from", "2026-13-01"]) == 2


def test_dead_letter_replay_job(engine, database_url, dagster_instance, qbo_sandbox,
                                shop_sandbox) -> None:
    server, books = qbo_sandbox
    orders = shop()
    misconfigured_sync(engine, client_for(server, books, engine), orders)
    shop_server, shop_store = shop_sandbox(orders)
    defs = definitions_for(sandbox_resources(database_url, shop_server.url,
                                             shop_store.access_token, server.url, books))
    job = defs.resolve_job_def("dead_letter_replay_job")

    only_rejected = {"ops": {"replay_dead_letters": {"config": {"reason_code": REJECTED}}}}
    result = job.execute_in_process(run_config=only_rejected, instance=dagster_instance)
    assert result.success
    outputs = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    recorded = outputs[0].event_specific_data.metadata
    assert recorded["letters_resolved"].value == len(orders) - 1
    assert recorded["letters_still_failing"].value == 0

    everything = job.execute_in_process(instance=dagster_instance, raise_on_error=False)
    assert not everything.success
    failure = everything.get_step_failure_events()[0].step_failure_data
    assert "dead letters remain open" in failure.error.message
    assert "no_line_items: 1" in failure.error.message
    assert failure.user_failure_data.metadata["letters_still_failing"].value == 1
    assert all(len(ids) == 1 for ids in live_invoices_by_doc(books).values())
    assert len(live_invoices_by_doc(books)) == len(orders) - 1


def test_replay_refuses_letters_of_another_integration(engine, qbo_sandbox) -> None:
    server, books = qbo_sandbox
    sync = InvoiceSync(engine, client_for(server, books, engine), INTEGRATION)
    with pytest.raises(ValueError, match="'shop_to_warehouse' cannot be replayed through the "
                       "sync of 'shopify_to_quickbooks'"):
        replay_dead_letters(engine, sync, Order, LetterFilter("shop_to_warehouse"))
