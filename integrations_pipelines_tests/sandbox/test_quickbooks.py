"""QuickBooks Online sandbox: OAuth2, writes, validation Faults, requestid, void."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines_tests.builders import invoice_body

from .conftest import REALM, refresh


def customer(qbo: httpx.Client, name: str, currency: str = "USD") -> dict[str, Any]:
    response = qbo.post("/customer", json={"DisplayName": name,
                                           "CurrencyRef": {"value": currency}})
    assert response.status_code == 200, response.text
    return response.json()["Customer"]


def fault(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["Fault"]["type"] == "ValidationFault" and "time" in body
    return body["Fault"]["Error"][0]


def test_token_rotation(quickbooks: tuple[SandboxServer, QuickBooksStore]) -> None:
    server, store = quickbooks
    first = refresh(server, "rt-initial")
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["x_refresh_token_expires_in"] == 8726400
    assert body["refresh_token"] != "rt-initial"
    assert store.tokens.current_refresh_token == body["refresh_token"]
    stale = refresh(server, "rt-initial")
    assert stale.status_code == 400 and stale.json() == {"error": "invalid_grant"}
    second = refresh(server, body["refresh_token"])
    assert second.status_code == 200
    bad_client = httpx.post(f"{server.url}/oauth2/v1/tokens/bearer", auth=("x", "y"),
                            data={"grant_type": "refresh_token",
                                  "refresh_token": second.json()["refresh_token"]})
    assert bad_client.status_code == 401 and bad_client.json() == {"error": "invalid_client"}
    httpx.post(f"{server.url}/_sandbox/tokens/expire-refresh")
    assert refresh(server, second.json()["refresh_token"]).json() == {"error": "invalid_grant"}


def test_expired_access_token_is_plain_text_401(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    server, _ = quickbooks
    assert qbo.get("/item/1").status_code == 200
    httpx.post(f"{server.url}/_sandbox/tokens/expire-access")
    response = qbo.get("/item/1")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/plain")
    assert "AuthenticationFailed" in response.text and "www-authenticate" in response.headers
    with pytest.raises(ValueError):
        response.json()


def test_unknown_realm_is_403(quickbooks: tuple[SandboxServer, QuickBooksStore],
                              qbo: httpx.Client) -> None:
    server, _ = quickbooks
    response = qbo.get(f"{server.url}/v3/company/999/item/1")
    assert response.status_code == 403 and "Fault" in response.json()


def test_seed_items(qbo: httpx.Client) -> None:
    names = {i: qbo.get(f"/item/{i}").json()["Item"]["Name"] for i in ("1", "2", "3")}
    assert names == {"1": "Sales", "2": "Shipping", "3": "Refunds"}


def test_invoice_create_computes_server_fields(qbo: httpx.Client) -> None:
    cust = customer(qbo, "Ava Smith")
    response = qbo.post("/invoice", json=invoice_body(cust["Id"]))
    assert response.status_code == 200, response.text
    inv = response.json()["Invoice"]
    assert inv["TotalAmt"] == pytest.approx(34.6) and inv["Balance"] == pytest.approx(34.6)
    assert inv["SyncToken"] == "0" and inv["domain"] == "QBO" and inv["sparse"] is False
    assert [line.get("LineNum") for line in inv["Line"]] == [1, 2, 3, None]
    assert inv["Line"][-1]["DetailType"] == "SubTotalLineDetail"
    assert inv["Line"][-1]["Amount"] == pytest.approx(37.5)
    assert inv["CustomerRef"] == {"value": cust["Id"], "name": "Ava Smith"}
    assert inv["Line"][0]["SalesItemLineDetail"]["ItemRef"]["name"] == "Sales"
    assert inv["MetaData"]["CreateTime"][-6] in "+-"
    assert qbo.get(f"/invoice/{inv['Id']}").json()["Invoice"] == inv


def test_sparse_update_and_stale_sync_token(qbo: httpx.Client) -> None:
    cust = customer(qbo, "Liam Chen")
    inv = qbo.post("/invoice", json=invoice_body(cust["Id"])).json()["Invoice"]
    updated = qbo.post("/invoice", json={"Id": inv["Id"], "SyncToken": "0", "sparse": True,
                                         "PrivateNote": "shopify:1001"}).json()["Invoice"]
    assert updated["SyncToken"] == "1" and updated["PrivateNote"] == "shopify:1001"
    assert updated["TotalAmt"] == inv["TotalAmt"] and updated["DocNumber"] == "1001"
    error = fault(qbo.post("/invoice", json={"Id": inv["Id"], "SyncToken": "0",
                                             "sparse": True, "PrivateNote": "late"}))
    assert error["code"] == "5010"
    relined = qbo.post("/invoice", json={
        "Id": inv["Id"], "SyncToken": "1", "sparse": True,
        "Line": [{"Amount": 4, "DetailType": "SalesItemLineDetail",
                  "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 2, "UnitPrice": 2}}],
    }).json()["Invoice"]
    assert relined["TotalAmt"] == pytest.approx(6.1) and len(relined["Line"]) == 2


@pytest.mark.parametrize(("mutate", "code", "element"), [
    (lambda b: b.pop("CustomerRef"), "2020", "CustomerRef"),
    (lambda b: b.update(CustomerRef={"value": "999"}), "2500", "CustomerRef"),
    (lambda b: b["Line"][0]["SalesItemLineDetail"].pop("ItemRef"), "2020", None),
    (lambda b: b["Line"][0]["SalesItemLineDetail"].update(ItemRef={"value": "77"}), "2500",
     None),
    (lambda b: b["Line"][0].update(Amount=31), "6070", None),
    (lambda b: b.update(DocNumber="X" * 22), "6000", "DocNumber"),
    (lambda b: b["Line"][0].update(Description="d" * 4001), "2050", None),
    (lambda b: b["Line"][0].update(Description="Mug 🚀"), "6000", None),
    (lambda b: b.update(CustomerMemo={"value": "Thanks 😀"}), "6000", "CustomerMemo"),
    (lambda b: b["Line"][2].update(Amount=500), "6000", "TotalAmt"),
    (lambda b: b.update(CurrencyRef={"value": "EUR"}), "6000", "CurrencyRef"),
    (lambda b: b.update(Line=[]), "6000", "Line"),
])
def test_invoice_validation_faults(qbo: httpx.Client, mutate: Any, code: str,
                                   element: str | None) -> None:
    cust = customer(qbo, "Mia Rossi")
    body = invoice_body(cust["Id"])
    mutate(body)
    error = fault(qbo.post("/invoice", json=body))
    assert error["code"] == code
    if element:
        assert error["element"] == element
    if code == "6070":
        assert error["Message"] == ("Amount calculation incorrect in the request: Amount is not "
                                    "equal to UnitPrice * Qty")
    if element == "DocNumber":
        assert "DocNumber" in error["Detail"]


def test_customer_rules(qbo: httpx.Client,
                        quickbooks: tuple[SandboxServer, QuickBooksStore]) -> None:
    _, store = quickbooks
    first = customer(qbo, "Noah O'Brien", "EUR")
    assert fault(qbo.post("/customer", json={"DisplayName": "noah o'brien"}))["code"] == "6240"
    assert fault(qbo.post("/customer", json={"DisplayName": "Zoë 🌸"}))["code"] == "6000"
    assert fault(qbo.post("/customer", json={"DisplayName": "x" * 501}))["code"] == "2050"
    assert fault(qbo.post("/customer", json={"DisplayName": "Ok", "GivenName": "g" * 101}))[
        "code"] == "2050"
    error = fault(qbo.post("/customer", json={"Id": first["Id"], "SyncToken": "0",
                                              "sparse": True, "CurrencyRef": {"value": "USD"}}))
    assert error["code"] == "6000"
    renamed = qbo.post("/customer", json={"Id": first["Id"], "SyncToken": "0", "sparse": True,
                                          "PrimaryEmailAddr": {"Address": "n@example.com"}})
    assert renamed.json()["Customer"]["SyncToken"] == "1"
    store.update_settings({"reject_astral_chars": False})
    assert qbo.post("/customer", json={"DisplayName": "Zoë 🌸"}).status_code == 200


def test_requestid_replays_original(qbo: httpx.Client,
                                    quickbooks: tuple[SandboxServer, QuickBooksStore]) -> None:
    server, store = quickbooks
    cust = customer(qbo, "Emma Novak")
    first = qbo.post("/invoice", params={"requestid": "shopify-1001-create"},
                     json=invoice_body(cust["Id"]))
    again = qbo.post("/invoice", params={"requestid": "shopify-1001-create"},
                     json=invoice_body(cust["Id"]))
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert len(store.all_invoices()) == 1
    stats = httpx.get(f"{server.url}/_sandbox/stats").json()
    assert stats["requestid_replays"] == 1
    too_long = qbo.post("/invoice", params={"requestid": "r" * 51},
                        json=invoice_body(cust["Id"]))
    assert too_long.status_code == 400


def test_void_and_delete(qbo: httpx.Client,
                         quickbooks: tuple[SandboxServer, QuickBooksStore]) -> None:
    _, store = quickbooks
    cust = customer(qbo, "Omar Haddad")
    inv = qbo.post("/invoice", json=invoice_body(cust["Id"], PrivateNote="shopify:9"))
    inv = inv.json()["Invoice"]
    voided = qbo.post("/invoice", params={"operation": "void"},
                      json={"Id": inv["Id"], "SyncToken": inv["SyncToken"]}).json()["Invoice"]
    assert voided["TotalAmt"] == 0 and voided["Balance"] == 0
    assert voided["PrivateNote"].startswith("Voided") and voided["SyncToken"] == "1"
    assert all(line["Amount"] == 0 for line in voided["Line"])
    found = qbo.get("/query", params={"query": f"select * from Invoice where Id = '{inv['Id']}'"})
    assert found.json()["QueryResponse"]["Invoice"][0]["TotalAmt"] == 0
    deleted = qbo.post("/invoice", params={"operation": "delete"},
                       json={"Id": inv["Id"], "SyncToken": "1"}).json()["Invoice"]
    assert deleted["status"] == "Deleted"
    assert fault(qbo.get(f"/invoice/{inv['Id']}"))["code"] == "610"
    assert store.all_invoices()[0]["_sandbox_status"] == "deleted"


def test_bookkeeper_edit_and_raw_insert(qbo: httpx.Client,
                                        quickbooks: tuple[SandboxServer, QuickBooksStore]) -> None:
    server, store = quickbooks
    cust = customer(qbo, "Lena Larsen")
    inv = qbo.post("/invoice", json=invoice_body(cust["Id"])).json()["Invoice"]
    admin = httpx.Client(base_url=f"{server.url}/_sandbox")
    edited = admin.patch(f"/invoices/{inv['Id']}", json={"TotalAmt": 1.0}).json()["Invoice"]
    assert edited["SyncToken"] == "1" and edited["TotalAmt"] == 1.0
    dup = admin.post("/invoices", json={k: v for k, v in inv.items() if k != "Id"})
    assert dup.json()["Invoice"]["Id"] != inv["Id"]
    both = qbo.get("/query", params={"query": "select * from Invoice where DocNumber = '1001'"})
    assert len(both.json()["QueryResponse"]["Invoice"]) == 2
    assert len(admin.get("/customers").json()["customers"]) == 1
    admin.post("/reset")
    assert store.all_invoices() == [] and store.all_customers() == []


def test_enforce_unique_docnumber(qbo: httpx.Client,
                                  quickbooks: tuple[SandboxServer, QuickBooksStore]) -> None:
    server, _ = quickbooks
    cust = customer(qbo, "Yuki Tanaka")
    assert qbo.post("/invoice", json=invoice_body(cust["Id"])).status_code == 200
    assert qbo.post("/invoice", json=invoice_body(cust["Id"])).status_code == 200
    httpx.post(f"{server.url}/_sandbox/faults", json={"enforce_unique_docnumber": True})
    assert fault(qbo.post("/invoice", json=invoice_body(cust["Id"])))["code"] == "6140"


def test_throttle_429(quickbooks: tuple[SandboxServer, QuickBooksStore],
                      qbo: httpx.Client) -> None:
    _, store = quickbooks
    store.update_settings({"per_second": 3, "throttle_retry_after": 1})
    answers = [qbo.get("/item/1") for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    error = answers[-1].json()["Fault"]["Error"][0]
    assert error["code"] == "3001" and "ThrottleExceeded" in error["Message"]
    assert answers[-1].headers["retry-after"] == "1"


def test_persistence_roundtrip(tmp_path: Any, qbo: httpx.Client,
                               quickbooks: tuple[SandboxServer, QuickBooksStore]) -> None:
    _, store = quickbooks
    cust = customer(qbo, "Felix Dubois")
    qbo.post("/invoice", params={"requestid": "r1"}, json=invoice_body(cust["Id"]))
    store.save(tmp_path / "qbo.json")
    again = QuickBooksStore.load(tmp_path / "qbo.json")
    assert again.all_invoices() == store.all_invoices()
    assert again.replay("r1") is not None
    assert again.tokens.current_refresh_token == store.tokens.current_refresh_token
    assert again.realm_id == REALM
