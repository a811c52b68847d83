"""Text Xero refuses, through the shared rule: control characters become spaces (for the
flagship too: QuickBooks' XML refuses them), emoji are spelled out, and the original is
kept in the invoice's history, escaped so Xero takes the note and the original can be read
back exactly; the order is booked, never dead-lettered for its note."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from integrations_pipelines.mapping.text import fit, normalize_text
from integrations_pipelines.sandbox.shopify_orders import LineSpec
from integrations_pipelines.sandbox.xero_app import start_xero
from integrations_pipelines.sync.extraction import StoredOrders
from integrations_pipelines.sync.shopify_to_xero import order_sync
from integrations_pipelines.vendors.xero.client import connect
from integrations_pipelines.vendors.xero.settings import XeroSettings
from integrations_pipelines_tests.defs.test_shopify_to_xero import ENTRY, FAST
from integrations_pipelines_tests.defs.test_xero_seeds_scenario import DAY, uk_order
from integrations_pipelines_tests.sync.test_xero_changes import store


def test_the_shared_rule_turns_control_characters_into_spaces_for_both_destinations():
    # QuickBooks' rule (emoji removed) and Xero's (spelled out) agree on control characters.
    assert normalize_text("Tea\x07towel\x00 \x1f set") == "Tea towel set"
    assert fit("Mug\x0bCup \U0001F984", 40) == "Mug Cup"
    assert fit("Mug\x0bCup \U0001F984", 40, spell=True) == "Mug Cup [UNICORN FACE]"


def test_a_control_character_is_booked_as_a_space_with_the_original_noted(engine):
    order = uk_order(1, [LineSpec("Tea\x07towel \U0001F984", Decimal("8.00"))])
    store(engine, order)
    server, xero = start_xero(per_minute=FAST)
    try:
        client = connect(XeroSettings(
            server.url, f"{server.url}/connect/token", xero.tokens.client_id,
            xero.tokens.client_secret, xero.books.tenant_id,
            bootstrap_refresh_token=xero.tokens.current_refresh_token), engine,
            per_minute=FAST)
        with client.http:
            outcome = order_sync(engine, client, ENTRY).run(
                StoredOrders(engine, DAY, DAY + timedelta(days=1)))
        assert (outcome.created, outcome.dead_lettered) == (1, 0)
        [invoice] = xero.books.query_invoices(None, None, None)
        assert invoice["LineItems"][0]["Description"] == "Tea towel [UNICORN FACE]"
        [note] = xero.books.history[invoice["InvoiceID"]]
        assert "line[0]: Tea\\x07towel \\U0001f984" in note["Details"]
    finally:
        server.stop()
