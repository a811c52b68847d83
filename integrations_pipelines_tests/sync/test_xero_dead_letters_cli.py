"""The dead-letter command line serves the Xero pair too, through the generic path (the
pair's replay binding, not a copy of the flagship's command): the franc order Xero refuses
is listed with Xero's own words, replayed once the organisation takes francs (one invoice,
the letter resolved), and a second replay finds nothing left."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from integrations_pipelines.catalog import entry
from integrations_pipelines.cli import main
from integrations_pipelines.mapping.shopify_to_xero_entry import ShopifyToXeroEntry
from integrations_pipelines.sandbox import xero_books
from integrations_pipelines.sandbox.shopify_orders import LineSpec
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.shopify_to_xero import order_sync
from integrations_pipelines.vendors.xero.client import connect
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines_tests.defs.test_xero_seeds_scenario import DAY, uk_order
from integrations_pipelines_tests.sync.test_xero_changes import store

PAIR = "shopify_to_xero"  # the shipped catalog's entry


@pytest.fixture
def xero(database_url, monkeypatch):
    server, books = start_xero(per_minute=6000)
    for name, value in {"DATABASE_URL": database_url, "XERO_BASE_URL": server.url,
                        "XERO_TOKEN_URL": f"{server.url}/connect/token",
                        "XERO_CLIENT_ID": books.tokens.client_id,
                        "XERO_CLIENT_SECRET": books.tokens.client_secret,
                        "XERO_TENANT_ID": books.books.tenant_id,
                        "XERO_REFRESH_TOKEN": books.tokens.current_refresh_token}.items():
        monkeypatch.setenv(name, value)
    yield books
    server.stop()


def test_xero_dead_letters_are_listed_and_replayed_from_the_command_line(
        engine, xero, monkeypatch, capsys):
    franc = uk_order(6, [LineSpec("Watch strap", Decimal("30.00"))],
                     presentment_currency="CHF", rate="0.90")
    store(engine, franc)
    store(engine, uk_order(7, [LineSpec("Mug", Decimal("10.00"))]))
    client = connect(XeroSettings.from_env(), engine, per_minute=6000)
    with client.http:
        outcome = order_sync(engine, client, entry(PAIR, ShopifyToXeroEntry)).run(
            StoredOrders(engine, DAY, DAY + timedelta(days=1)))
    assert (outcome.created, dict(outcome.dead_letter_reasons)) == (1, {"xero_validation": 1})

    assert main(["dead-letters", "list", "--integration", PAIR]) == 0
    listed = capsys.readouterr().out
    assert "1 open: xero_validation 1" in listed and str(franc["id"]) in listed
    assert "not subscribed" in listed  # Xero's own words

    assert main(["dead-letters", "replay", "--integration", PAIR]) == 1  # still refused
    assert "still failing (xero_validation: 1)" in capsys.readouterr().out

    # The organisation subscribes to francs: the replay books the order, once.
    monkeypatch.setitem(xero_books.RATES, "CHF", Decimal("1.1200"))
    assert main(["dead-letters", "replay", "--integration", PAIR]) == 0
    assert "1 dead letters replayed: 1 resolved" in capsys.readouterr().out
    numbers = [i["InvoiceNumber"] for i in xero.books.query_invoices(None, None, None)]
    assert sorted(numbers) == sorted({f"S{franc['order_number']}", "S2007"})
    assert main(["dead-letters", "replay", "--integration", PAIR]) == 0
    assert main(["dead-letters", "list", "--integration", PAIR, "--from", "2026-13-01"]) == 2
