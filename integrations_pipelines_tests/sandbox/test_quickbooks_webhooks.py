"""The QuickBooks sandbox tells the app what changed the two ways Intuit does: signed,
batched webhook notifications pushed to a real endpoint (for API writes and the bookkeeper's
edits alike, retried in order until acknowledged), and the change data capture poll (`/cdc`)
with its deleted stubs, its 30-day look-back and its 1,000-object cap."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore
from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.vendors.quickbooks.webhooks import delivery_id, verify
from integrations_pipelines_tests.builders import invoice_body

from .conftest import REALM
from .receiver import Receiver, serve_receiver
from .test_quickbooks import customer

VERIFIER = "intuit-verifier-token-test"
Company = tuple[SandboxServer, QuickBooksStore, httpx.Client, Receiver]


@pytest.fixture
def company(quickbooks: tuple[SandboxServer, QuickBooksStore],
            qbo: httpx.Client) -> Iterator[Company]:
    """The company with its app's webhook endpoint configured in the 'developer portal'."""
    server, store = quickbooks
    store.update_settings({"webhook_batch_seconds": 0.4, "webhook_retry_scale": 0.01})
    with serve_receiver() as (url, receiver):
        answer = httpx.post(f"{server.url}/_sandbox/webhooks",
                            json={"url": url, "verifier_token": VERIFIER})
        assert answer.json() == {"url": url, "verifier_token": VERIFIER,
                                 "entities": ["Invoice"]}
        yield server, store, qbo, receiver


def entities(received: Any) -> list[tuple[str, str, str]]:
    [notification] = received.json()["eventNotifications"]
    return [(e["name"], e["id"], e["operation"])
            for e in notification["dataChangeEvent"]["entities"]]


def new_invoice(qbo: httpx.Client, name: str = "Ada Lovelace", doc: str = "1001"
                ) -> dict[str, Any]:
    answer = qbo.post("/invoice", json=invoice_body(customer(qbo, name)["Id"], DocNumber=doc))
    assert answer.status_code == 200, answer.text
    return answer.json()["Invoice"]


def test_api_changes_arrive_as_one_signed_batched_notification(company: Company) -> None:
    server, store, qbo, receiver = company
    made = new_invoice(qbo)
    updated = qbo.post("/invoice", json={"Id": made["Id"], "SyncToken": made["SyncToken"],
                                         "sparse": True, "PrivateNote": "checked"}).json()
    qbo.post("/invoice", params={"operation": "void"},
             json={"Id": made["Id"], "SyncToken": updated["Invoice"]["SyncToken"]})
    assert store.webhooks.wait_idle(5)
    [got] = receiver.accepted()  # three changes within the batch window: one POST
    assert verify(got.body, got.headers, [VERIFIER])
    assert not verify(got.body, got.headers, ["someone-elses-token"])
    assert got.headers["content-type"] == "application/json"
    [notification] = got.json()["eventNotifications"]
    assert notification["realmId"] == REALM
    assert entities(got) == [("Invoice", made["Id"], "Create"),
                             ("Invoice", made["Id"], "Update"),
                             ("Invoice", made["Id"], "Void")]
    stamps = [e["lastUpdated"] for e in notification["dataChangeEvent"]["entities"]]
    assert all(s.endswith("Z") for s in stamps)
    assert datetime.fromisoformat(stamps[0]) == datetime.fromisoformat(
        made["MetaData"]["LastUpdatedTime"])  # the same moment, printed in UTC

    other = new_invoice(qbo, "Grace Hopper", "1002")
    qbo.post("/invoice", params={"operation": "delete"},
             json={"Id": other["Id"], "SyncToken": other["SyncToken"]})
    [_, second] = receiver.wait_for(2)
    assert entities(second) == [("Invoice", other["Id"], "Create"),
                                ("Invoice", other["Id"], "Delete")]
    assert store.webhooks.wait_idle(5)  # the sender counts a delivery once it is answered
    assert store.stats["webhooks_delivered"] == 2
    log = httpx.get(f"{server.url}/_sandbox/webhooks/deliveries").json()["deliveries"]
    assert [(n["status"], n["entities"], n["attempts"]) for n in log] == [
        ("delivered", 3, 1), ("delivered", 2, 1)]


def test_the_bookkeepers_edits_in_the_ui_notify_too(company: Company) -> None:
    server, store, qbo, receiver = company
    made = new_invoice(qbo)
    assert store.webhooks.wait_idle(5)
    edit = httpx.patch(f"{server.url}/_sandbox/invoices/{made['Id']}",
                       json={"PrivateNote": "fixed by the bookkeeper"})
    assert edit.status_code == 200
    assert store.webhooks.wait_idle(5)
    assert entities(receiver.accepted()[-1]) == [("Invoice", made["Id"], "Update")]
    seen = len(receiver.accepted())
    pasted = httpx.post(f"{server.url}/_sandbox/invoices",
                        json={**made, "Id": None, "DocNumber": "1001-copy"}).json()["Invoice"]
    httpx.delete(f"{server.url}/_sandbox/invoices/{made['Id']}")
    assert store.webhooks.wait_idle(5)
    # One notification, or two when the machine is slow enough that the delete came after the
    # batch of the paste had closed: either way both edits are told, in order.
    told = [e for received in receiver.accepted()[seen:] for e in entities(received)]
    assert told == [("Invoice", pasted["Id"], "Create"), ("Invoice", made["Id"], "Delete")]


def test_a_failed_notification_is_retried_and_later_ones_wait_behind_it(
        company: Company) -> None:
    server, store, qbo, receiver = company
    httpx.post(f"{server.url}/_sandbox/faults", json={"webhooks_paused": True})
    first = new_invoice(qbo)
    time.sleep(0.5)  # the first batch closes while sending is paused
    second = new_invoice(qbo, "Grace Hopper", "1002")
    time.sleep(0.5)
    assert receiver.requests == [] and not store.webhooks.wait_idle(0.1)
    receiver.fail_first = 2
    httpx.post(f"{server.url}/_sandbox/faults", json={"webhooks_paused": False})
    assert store.webhooks.wait_idle(5)
    assert [r.status for r in receiver.requests] == [500, 500, 200, 200]
    assert len({r.body for r in receiver.requests[:3]}) == 1  # a retry repeats the bytes
    assert len({delivery_id(r.body) for r in receiver.requests}) == 2
    assert [entities(r)[0][1] for r in receiver.accepted()] == [first["Id"], second["Id"]]
    assert store.stats["webhooks_retried"] == 2
    assert store.faults.injected["webhooks_paused"] == 2


def test_duplicated_notifications_repeat_the_same_body(company: Company) -> None:
    _, store, qbo, receiver = company
    store.faults.update({"webhook_duplicate_rate": 1.0})
    new_invoice(qbo)
    assert store.webhooks.wait_idle(5)
    one, two = receiver.accepted()
    assert one.body == two.body and verify(two.body, two.headers, [VERIFIER])
    assert store.faults.injected["webhook_duplicate"] == 1


def test_without_an_endpoint_nothing_is_queued(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    server, store = quickbooks
    new_invoice(qbo)
    assert store.webhooks.deliveries() == [] and store.webhooks.wait_idle(0.1)
    assert httpx.get(f"{server.url}/_sandbox/webhooks").json()["url"] is None


def cdc(qbo: httpx.Client, since: str, entities: str = "Invoice") -> httpx.Response:
    return qbo.get("/cdc", params={"entities": entities, "changedSince": since})


def test_cdc_returns_what_changed_and_what_was_deleted_since(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    server, _ = quickbooks
    old = new_invoice(qbo, "Ada Lovelace", "1001")
    edited = new_invoice(qbo, "Grace Hopper", "1002")
    doomed = new_invoice(qbo, "Alan Turing", "1003")
    time.sleep(0.01)
    mark = cdc(qbo, (datetime.now().astimezone() - timedelta(days=1)).isoformat()).json()["time"]
    time.sleep(0.01)
    httpx.patch(f"{server.url}/_sandbox/invoices/{edited['Id']}", json={"PrivateNote": "x"})
    httpx.delete(f"{server.url}/_sandbox/invoices/{doomed['Id']}")
    answer = cdc(qbo, mark, "invoice,Customer")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    invoices, customers = body["CDCResponse"][0]["QueryResponse"]
    assert [row["Id"] for row in invoices["Invoice"]] == [edited["Id"], doomed["Id"]]
    assert invoices["Invoice"][0]["PrivateNote"] == "x"  # the full current payload
    stub = invoices["Invoice"][1]
    assert stub["status"] == "Deleted" and set(stub) == {"domain", "status", "Id", "MetaData"}
    assert datetime.fromisoformat(stub["MetaData"]["LastUpdatedTime"]) >= \
        datetime.fromisoformat(mark)
    assert (invoices["startPosition"], invoices["maxResults"], invoices["totalCount"]) == (1, 2, 2)
    assert "Customer" not in customers and customers["totalCount"] == 0
    assert old["Id"] not in [row["Id"] for row in invoices["Invoice"]]
    assert "time" in body


def test_cdc_caps_a_response_at_its_object_limit_keeping_the_oldest(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    _, store = quickbooks
    store.update_settings({"cdc_max_objects": 2})
    made = [new_invoice(qbo, f"Customer {n}", f"20{n}") for n in range(3)]
    since = (datetime.now().astimezone() - timedelta(hours=1)).isoformat()
    [part] = cdc(qbo, since).json()["CDCResponse"][0]["QueryResponse"]
    assert [row["Id"] for row in part["Invoice"]] == [made[0]["Id"], made[1]["Id"]]
    assert part["maxResults"] == 2 and part["totalCount"] == 3


def test_cdc_refuses_more_than_30_days_and_bad_parameters(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    now = datetime.now().astimezone()
    assert cdc(qbo, (now - timedelta(days=29)).date().isoformat()).status_code == 200
    too_old = cdc(qbo, (now - timedelta(days=31)).isoformat())
    assert too_old.status_code == 400
    error = too_old.json()["Fault"]["Error"][0]
    assert error["element"] == "changedSince" and "older than" in error["Detail"]
    assert too_old.json()["Fault"]["type"] == "ValidationFault"
    assert cdc(qbo, "yesterday").status_code == 400
    assert cdc(qbo, now.isoformat(), "Invoice,Bogus").status_code == 400
    missing = qbo.get("/cdc", params={"entities": "Invoice"})
    assert missing.status_code == 400
    assert missing.json()["Fault"]["Error"][0]["element"] == "changedSince"


def test_cdc_is_authenticated_like_every_read(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    server, _ = quickbooks
    since = datetime.now().astimezone().isoformat()
    anonymous = httpx.get(f"{server.url}/v3/company/{REALM}/cdc",
                          params={"entities": "Invoice", "changedSince": since})
    assert anonymous.status_code == 401 and "AuthenticationFailed" in anonymous.text
    token = qbo.headers["Authorization"]
    elsewhere = httpx.get(f"{server.url}/v3/company/123/cdc", headers={"Authorization": token},
                          params={"entities": "Invoice", "changedSince": since})
    assert elsewhere.status_code == 403


def test_deletions_and_the_endpoint_survive_a_save(
        quickbooks: tuple[SandboxServer, QuickBooksStore], qbo: httpx.Client) -> None:
    _, store = quickbooks
    store.webhooks.configure(url="https://app.example.com/qbo", verifier_token=VERIFIER)
    made = new_invoice(qbo)
    store.delete_invoice_raw(made["Id"])
    loaded = QuickBooksStore.from_json(store.to_json())
    assert loaded.deleted_at == store.deleted_at and made["Id"] in loaded.deleted_at
    assert loaded.webhooks.settings() == store.webhooks.settings()
    store.reset()
    assert store.webhooks.settings()["url"] is None and store.deleted_at == {}
