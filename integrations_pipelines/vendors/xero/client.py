"""Xero Accounting API client for one organisation (tenant).

Every call carries `xero-tenant-id` and a bearer token from the token manager (access
tokens live 30 minutes; the refresh token rotates on every use and dies after 60 days
unused, which token health watches). Every write carries an `Idempotency-Key` derived from
what is written, so a retried or re-run write gets Xero's first answer instead of a second
document. Invoices are written up to 50 per request with `summarizeErrors=false`, so one
refused invoice comes back with its own `ValidationErrors` while the others are saved.
Every answer is validated against our models (`contracts`) before its dict is returned.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from typing import Any, cast

import sqlalchemy as sa
from pydantic import BaseModel

from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.errors import PermanentVendorError
from integrations_pipelines.vendors.http import Pacer, VendorHttpClient
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.oauth import OAuthApp, TokenManager
from integrations_pipelines.vendors.xero.errors import parse_xero_error
from integrations_pipelines.vendors.xero.limits import (
    RateLimitProblem,
    app_budget,
    tenant_budget,
)
from integrations_pipelines.vendors.xero.models import CreditNote, Invoice, Payment, TaxRate
from integrations_pipelines.vendors.xero.pacing import xero_pacers
from integrations_pipelines.vendors.xero.settings import XeroSettings

__all__ = ["API", "BATCH_SIZE", "MAX_IDEMPOTENCY_KEY", "REFRESH_IDLE_LIFETIME", "XeroClient",
           "connect"]

API = "/api.xro/2.0"
BATCH_SIZE = 50  # Xero's advice: up to 50 documents per request
MAX_IDEMPOTENCY_KEY = 128
PAGE_SIZE = 100
NUMBERS_PER_LOOKUP = 40  # InvoiceNumbers=... stays well inside a URL's length
REFRESH_IDLE_LIFETIME = timedelta(days=60)


def connect(settings: XeroSettings, engine: sa.Engine, *, metrics: HttpMetrics | None = None,
            contracts: ContractGuard | None = None, per_minute: int = 60,
            app_per_minute: int = 10_000, **http_kw: Any) -> XeroClient:
    """A client for one tenant whose tokens live in the integration store; its pacers are
    Xero's remaining-calls headers, the tenant's and the app's shared budgets (Xero's
    published limits unless told otherwise) and the 429 problem reader."""
    metrics = metrics or HttpMetrics()
    token_http = VendorHttpClient("xero", settings.token_url, metrics=metrics, **http_kw)
    tokens = TokenManager(
        engine,
        OAuthApp(f"xero:{settings.tenant_id}", settings.token_url, settings.client_id,
                 settings.client_secret, refresh_idle_lifetime=REFRESH_IDLE_LIFETIME),
        http=token_http, bootstrap_refresh_token=settings.bootstrap_refresh_token)
    sent: dict[str, str] = {}

    def auth_headers() -> dict[str, str]:
        sent["token"] = tokens.access_token()
        return {"Authorization": f"Bearer {sent['token']}", "xero-tenant-id": settings.tenant_id}

    def refresh_after_401() -> None:
        tokens.force_refresh(rejected_token=sent.get("token"))

    problems = RateLimitProblem()
    shared: list[Pacer] = [tenant_budget(engine, settings.tenant_id, per_minute),
                           app_budget(engine, settings.client_id, app_per_minute)]
    http = VendorHttpClient(
        "xero", settings.base_url, auth_headers=auth_headers, on_unauthorized=refresh_after_401,
        default_headers={"Accept": "application/json"}, metrics=metrics,
        error_parser=parse_xero_error,
        pacers=[*xero_pacers(sleep=http_kw.get("sleep")), *shared, problems], **http_kw)
    contracts = contracts or ContractGuard(engine)
    contracts.redactor.register(settings.client_secret, settings.bootstrap_refresh_token)
    return XeroClient(http, settings.tenant_id, tokens=tokens, contracts=contracts,
                      problems=problems)


def _day(value: date) -> str:
    return f"DateTime({value.year}, {value.month:02d}, {value.day:02d})"


class XeroClient:
    """One Xero organisation."""

    def __init__(self, http: VendorHttpClient, tenant_id: str, *,
                 tokens: TokenManager | None = None, contracts: ContractGuard | None = None,
                 problems: RateLimitProblem | None = None) -> None:
        self.http = http
        self.tenant_id = tenant_id
        self.tokens = tokens
        self.contracts = contracts or ContractGuard()
        self.problems = problems or RateLimitProblem()

    def _valid(self, model: type[BaseModel], rows: Any, key: str,
               endpoint: str) -> list[dict[str, Any]]:
        if not isinstance(rows, list):
            raise self.contracts.violation(f"{key}Response", key, "missing or not a list",
                                           rows, vendor="xero", endpoint=endpoint)
        saved = [r for r in rows if isinstance(r, dict) and not r.get("HasErrors")]
        self.contracts.validate_many(model, saved, vendor="xero", endpoint=endpoint)
        return cast(list[dict[str, Any]], rows)

    def _get(self, path: str, key: str, model: type[BaseModel], endpoint: str,
             params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
        response = self.http.request("GET", f"{API}/{path}", endpoint=endpoint, params=params,
                                     headers=headers)
        body = response.json()
        return self._valid(model, body.get(key) if isinstance(body, dict) else None, key,
                           endpoint)

    def _write(self, method: str, path: str, key: str, model: type[BaseModel],
               documents: list[dict[str, Any]], idempotency_key: str, endpoint: str,
               summarize: bool = True) -> list[dict[str, Any]]:
        if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
            raise ValueError(f"Idempotency-Key longer than {MAX_IDEMPOTENCY_KEY} characters")
        response = self.http.request(
            method, f"{API}/{path}", endpoint=endpoint, json={key: documents},
            params=None if summarize else {"summarizeErrors": "false"},
            headers={"Idempotency-Key": idempotency_key},
            idempotent=True)  # the key makes a retried write answer the first one
        body = response.json()
        return self._valid(model, body.get(key) if isinstance(body, dict) else None, key,
                           endpoint)

    def _pages(self, path: str, model: type[BaseModel], endpoint: str, where: str | None,
               modified_since: datetime | None) -> Iterator[dict[str, Any]]:
        """Every page of a list; `If-Modified-Since` (a UTC moment) keeps only the documents
        Xero created or changed after it."""
        headers = ({"If-Modified-Since": format_datetime(modified_since.astimezone(UTC),
                                                         usegmt=True)}
                   if modified_since is not None else None)
        page = 1
        while True:
            params = {"page": str(page), "pageSize": str(PAGE_SIZE)}
            if where:
                params["where"] = where
            rows = self._get(path, path, model, endpoint, params, headers)
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            page += 1

    # -- invoices ---------------------------------------------------------------------
    def invoices(self, start: date, end: date) -> Iterator[dict[str, Any]]:
        """Every ACCREC invoice dated in [start, end), page by page: the day's complete
        read-back (a reconciliation must see each invoice of its window)."""
        return self._pages("Invoices", Invoice, "invoices.read",
                           f'Type=="ACCREC" && Date >= {_day(start)} && Date < {_day(end)}',
                           None)

    def invoices_modified_since(self, moment: datetime) -> Iterator[dict[str, Any]]:
        """The ACCREC invoices created or changed after `moment` (`If-Modified-Since`),
        whatever their date: the late changes of the books."""
        return self._pages("Invoices", Invoice, "invoices.changed", 'Type=="ACCREC"', moment)

    def invoices_by_numbers(self, numbers: Sequence[str]) -> list[dict[str, Any]]:
        """The invoices carrying these numbers (the lookup by external key)."""
        found: list[dict[str, Any]] = []
        for at in range(0, len(numbers), NUMBERS_PER_LOOKUP):
            chunk = ",".join(numbers[at:at + NUMBERS_PER_LOOKUP])
            found.extend(self._get("Invoices", "Invoices", Invoice, "invoices.lookup",
                                   {"InvoiceNumbers": chunk}))
        return found

    def invoices_by_ids(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        """The invoices with these `InvoiceID`s as Xero now states them (`IDs=`); an id
        Xero no longer holds is simply absent."""
        found: list[dict[str, Any]] = []
        for at in range(0, len(ids), NUMBERS_PER_LOOKUP):
            found.extend(self._get("Invoices", "Invoices", Invoice, "invoices.by_id",
                                   {"IDs": ",".join(ids[at:at + NUMBERS_PER_LOOKUP])}))
        return found

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        return self._get(f"Invoices/{invoice_id}", "Invoices", Invoice, "invoices.get")[0]

    def put_invoices(self, invoices: list[dict[str, Any]],
                     idempotency_key: str) -> list[dict[str, Any]]:
        """Create up to `BATCH_SIZE` invoices; each answer element has `HasErrors` and its
        `ValidationErrors` (summarizeErrors=false: the valid ones are saved)."""
        if len(invoices) > BATCH_SIZE:
            raise ValueError(f"at most {BATCH_SIZE} invoices per request")
        return self._write("PUT", "Invoices", "Invoices", Invoice, invoices, idempotency_key,
                           "invoices.create", summarize=False)

    def post_invoice(self, invoice_id: str, body: dict[str, Any],
                     idempotency_key: str) -> dict[str, Any]:
        """Update one invoice (lines, or `Status`: VOIDED / DELETED)."""
        return self._write("POST", f"Invoices/{invoice_id}", "Invoices", Invoice,
                           [{**body, "InvoiceID": invoice_id}], idempotency_key,
                           "invoices.update")[0]

    def add_history(self, invoice_id: str, details: str, idempotency_key: str) -> None:
        """A note in the invoice's history (what a bookkeeper reads beside it)."""
        self.http.request("PUT", f"{API}/Invoices/{invoice_id}/History",
                          endpoint="invoices.history", idempotent=True,
                          headers={"Idempotency-Key": idempotency_key},
                          json={"HistoryRecords": [{"Details": details}]})

    # -- credit notes and payments ----------------------------------------------------
    def put_credit_note(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._write("PUT", "CreditNotes", "CreditNotes", CreditNote, [body],
                           idempotency_key, "creditnotes.create")[0]

    def allocate(self, credit_note_id: str, invoice_id: str, amount: str, on: date,
                 idempotency_key: str) -> None:
        """Allocate `amount` of a credit note to an invoice (never over its amount due:
        Xero refuses that)."""
        self.http.request(
            "PUT", f"{API}/CreditNotes/{credit_note_id}/Allocations",
            endpoint="creditnotes.allocate", idempotent=True,
            headers={"Idempotency-Key": idempotency_key},
            json={"Allocations": [{"Amount": float(amount), "Date": on.isoformat(),
                                   "Invoice": {"InvoiceID": invoice_id}}]})

    def credit_notes(self, since_day: date, *,
                     modified_since: datetime | None = None) -> Iterator[dict[str, Any]]:
        """The ACCRECCREDIT credit notes dated on or after `since_day` (a refund never
        precedes its order), with their `Allocations`, `Status` and per-line `TaxType` /
        `TaxAmount`; `modified_since` keeps only those changed after that moment."""
        return self._pages("CreditNotes", CreditNote, "creditnotes.read",
                           f'Type=="ACCRECCREDIT" && Date >= {_day(since_day)}',
                           modified_since)

    def credit_notes_modified_since(self, moment: datetime) -> Iterator[dict[str, Any]]:
        """The ACCRECCREDIT credit notes created or changed after `moment`."""
        return self._pages("CreditNotes", CreditNote, "creditnotes.changed",
                           'Type=="ACCRECCREDIT"', moment)

    def tax_rates(self) -> list[dict[str, Any]]:
        """The organisation's tax rates: each `TaxType` with the `EffectiveRate` Xero
        applies (percent)."""
        return self._get("TaxRates", "TaxRates", TaxRate, "taxrates.read")

    def credit_note(self, note_id: str) -> dict[str, Any]:
        return self._get(f"CreditNotes/{note_id}", "CreditNotes", CreditNote,
                         "creditnotes.get")[0]

    def delete_allocation(self, note_id: str, allocation_id: str,
                          idempotency_key: str) -> None:
        """Take a credit note's allocation back (before voiding what it was allocated to).
        A write like the others: its `Idempotency-Key` makes a retry after a lost answer
        get Xero's first answer, and an allocation already gone (404) is taken back."""
        try:
            self.http.request(
                "DELETE", f"{API}/CreditNotes/{note_id}/Allocations/{allocation_id}",
                endpoint="creditnotes.unallocate", idempotent=True,
                headers={"Idempotency-Key": idempotency_key})
        except PermanentVendorError as exc:
            if exc.status != 404:
                raise

    def void_credit_note(self, note_id: str, idempotency_key: str) -> dict[str, Any]:
        return self._write("POST", f"CreditNotes/{note_id}", "CreditNotes", CreditNote,
                           [{"CreditNoteID": note_id, "Status": "VOIDED"}], idempotency_key,
                           "creditnotes.void")[0]

    def put_payment(self, body: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return self._write("PUT", "Payments", "Payments", Payment, [body], idempotency_key,
                           "payments.create")[0]

    def delete_payment(self, payment_id: str, idempotency_key: str) -> dict[str, Any]:
        return self._write("POST", f"Payments/{payment_id}", "Payments", Payment,
                           [{"Status": "DELETED"}], idempotency_key, "payments.delete")[0]
