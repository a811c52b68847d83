"""The chaos knobs: dying credentials and schema drift, settable at start and at run time."""

from __future__ import annotations

from typing import Any

import httpx

from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore
from integrations_pipelines.sandbox.server import SandboxServer, start_quickbooks, start_shopify
from integrations_pipelines.sandbox.shopify_store import ShopifyStore
from integrations_pipelines_tests.builders import invoice_body

from .conftest import CLIENT, REALM, TOKEN, refresh
from .test_quickbooks import customer


def test_shopify_credentials_revoked_at_start_and_at_run_time(
        shop_orders: list[dict[str, Any]]) -> None:
    server, store = start_shopify(shop_orders[:3], access_token=TOKEN,
                                  faults={"credentials_revoked": True})
    with server, httpx.Client(base_url=f"{server.url}/admin/api/2025-07",
                              headers={"X-Shopify-Access-Token": TOKEN}) as client:
        answer = client.get("/orders/count.json")
        assert answer.status_code == 401 and "access token" in answer.json()["errors"]
        httpx.post(f"{server.url}/_sandbox/faults", json={"credentials_revoked": False})
        assert client.get("/orders/count.json").json() == {"count": 3}
        store.faults.update({"credentials_revoked": True})
        assert client.get("/orders/count.json").status_code == 401
        assert store.faults.injected["credentials_revoked"] == 2


def test_quickbooks_revocation_kills_access_and_refresh_tokens_for_good(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    server, store = quickbooks
    live_refresh = store.tokens.current_refresh_token
    assert qbo.get("/query", params={"query": "select * from Item"}).status_code == 200
    knobs = httpx.post(f"{server.url}/_sandbox/faults", json={"credentials_revoked": True}).json()
    assert knobs["credentials_revoked"] is True
    assert qbo.get("/query", params={"query": "select * from Item"}).status_code == 401
    assert refresh(server, live_refresh).json() == {"error": "invalid_grant"}
    store.faults.update({"credentials_revoked": False})
    # Turning the knob off does not bring revoked tokens back: the user must reconnect.
    assert refresh(server, live_refresh).json() == {"error": "invalid_grant"}
    issued = httpx.post(f"{server.url}/_sandbox/tokens/issue").json()
    assert refresh(server, issued["refresh_token"]).status_code == 200


def test_quickbooks_revoked_from_the_start() -> None:
    server, _ = start_quickbooks(realm_id=REALM, client_id=CLIENT[0], client_secret=CLIENT[1],
                                 refresh_token="rt-initial", faults={"credentials_revoked": True})
    with server:
        assert refresh(server, "rt-initial").json() == {"error": "invalid_grant"}


def test_access_token_expires_every_n_calls(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    server, store = quickbooks
    store.faults.update({"expire_access_token_every": 3})
    codes = [qbo.get("/query", params={"query": "select * from Item"}).status_code
             for _ in range(3)]
    assert codes == [200, 200, 401]
    assert store.faults.injected["access_token_expired"] == 1
    # The refresh token still works: only the access token died.
    assert refresh(server, store.tokens.current_refresh_token).status_code == 200


def test_quickbooks_invoice_drift(quickbooks: tuple[SandboxServer, QuickBooksStore],
                                  qbo: httpx.Client) -> None:
    _, store = quickbooks
    cust = customer(qbo, "Nora Larsen")
    store.faults.update({"schema_drift": {"amounts_as_strings": True, "drop_field": "SyncToken",
                                          "add_fields": {"Line[].TaxTier": "B"}}})
    created = qbo.post("/invoice", params={"requestid": "r-1"},
                       json=invoice_body(cust["Id"])).json()["Invoice"]
    assert created["TotalAmt"] == "34.60" and "SyncToken" not in created
    assert all(line["TaxTier"] == "B" and isinstance(line["Amount"], str)
               for line in created["Line"])
    replayed = qbo.post("/invoice", params={"requestid": "r-1"},
                        json=invoice_body(cust["Id"])).json()["Invoice"]
    assert replayed["TotalAmt"] == "34.60"
    stored = store.all_invoices()[0]
    assert stored["TotalAmt"] == 34.6 and stored["SyncToken"] == "0"  # the books are intact
    store.faults.update({"schema_drift": {"amounts_as_strings": None, "drop_field": None,
                                          "add_fields": None}})
    read = qbo.get(f"/invoice/{created['Id']}").json()["Invoice"]
    assert read["TotalAmt"] == 34.6 and read["SyncToken"] == "0"


def test_quickbooks_page_size_cap(quickbooks: tuple[SandboxServer, QuickBooksStore],
                                  qbo: httpx.Client) -> None:
    _, store = quickbooks
    cust = customer(qbo, "Lena Novak")
    for number in range(5):
        assert qbo.post("/invoice", json=invoice_body(cust["Id"], DocNumber=f"D{number}")
                        ).status_code == 200
    store.faults.update({"schema_drift": {"page_size_cap": 2}})
    page = qbo.get("/query", params={
        "query": "select * from Invoice orderby Id STARTPOSITION 1 MAXRESULTS 1000"}).json()
    assert len(page["QueryResponse"]["Invoice"]) == 2
    assert page["QueryResponse"]["maxResults"] == 2


def test_shopify_nested_drift_paths(shopify: tuple[SandboxServer, ShopifyStore],
                                    shopify_client: httpx.Client) -> None:
    _, store = shopify
    store.faults.update({"schema_drift": {
        "add_fields": {"line_items[].gift_wrap": {"paper": "red"}, "loyalty_tier": "gold"},
        "drop_field": "customer.email, line_items[].sku"}})
    orders = shopify_client.get("/orders.json", params={"status": "any", "limit": 5}
                                ).json()["orders"]
    assert orders and all(o["loyalty_tier"] == "gold" for o in orders)
    assert all(li["gift_wrap"] == {"paper": "red"} and "sku" not in li
               for o in orders for li in o["line_items"])
    assert all("email" not in o["customer"] for o in orders if o.get("customer"))
    raw = store.get_order(orders[0]["id"])
    assert "loyalty_tier" not in raw and raw["line_items"][0].get("sku")  # the shop is intact
