"""Xero's webhooks through the receiver: deliveries from the Xero sandbox, signed with
`x-xero-signature`, pass Xero's "intent to receive" check (200 signed right, 401 signed
wrong) and are committed to the inbox once, pending, however often they are delivered."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.xero_app import XeroStore
from integrations_pipelines.settings import WebhookSecrets
from integrations_pipelines.state.tables import webhook_inbox
from integrations_pipelines.webhooks.app import build_receiver
from integrations_pipelines.webhooks.inbox import GroupCommitter

ROUTE = "/webhooks/xero/books-uk"


@pytest.fixture
def receiver(engine):
    xero = XeroStore()
    app = build_receiver(engine, lambda: WebhookSecrets(shopify=(), quickbooks=()),
                         committer=GroupCommitter(engine, max_wait=0.005),
                         xero_keys=lambda: ("retired-key", xero.webhook_key))
    with SandboxServer(app) as server:
        yield server.url, xero


def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}{ROUTE}", content=body, headers=headers, timeout=10)


def test_xero_deliveries_pass_the_intent_check_and_are_kept_once(receiver, engine):
    url, xero = receiver
    good = post(url, *xero.webhook_delivery(intent=True))
    bad = post(url, *xero.webhook_delivery(intent=True, signed_by="not-the-key"))
    assert (good.status_code, bad.status_code) == (200, 401)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_inbox)).scalar() == 0

    xero.books.create_invoice({"Type": "ACCREC", "Contact": {"Name": "Ada"},
                               "InvoiceNumber": "S1", "Status": "AUTHORISED",
                               "LineItems": [{"Description": "Mug", "Quantity": 1,
                                              "UnitAmount": 10, "AccountCode": "200",
                                              "TaxType": "OUTPUT2"}]})
    body, headers = xero.webhook_delivery()
    first, again = post(url, body, headers), post(url, body, headers)  # Xero redelivers
    assert first.status_code == again.status_code == 200
    assert again.json()["duplicate"] is True
    with engine.connect() as conn:
        [row] = conn.execute(sa.select(webhook_inbox)).all()
    assert (row.vendor, row.connection, row.topic, row.status) == (
        "xero", "books-uk", "xero/events", "pending")  # for the pair's books-changed sensor
    assert '"eventCategory": "INVOICE"' in row.body
    assert post(url, body, {**headers, "x-xero-signature": "AAAA"}).status_code == 401
