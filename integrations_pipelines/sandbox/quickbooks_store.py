"""In-memory QuickBooks Online company: customers, items, invoices, tokens and throttle.

Every write goes through the same rules as the HTTP API; the admin methods (raw insert,
bookkeeper edits, deletes, token revocation) are what a person does in the QBO UI and what
tests use to create drift. Every change, through the API or in the UI, is also queued as a
webhook notification (`store.webhooks`, see `quickbooks_webhooks`), and deletions are
remembered with their time for change data capture (`quickbooks_cdc`). Thread-safe: the
server thread, the webhook sender and the test thread share it.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from integrations_pipelines.sandbox.faults import Faults, FaultSettings
from integrations_pipelines.sandbox.quickbooks_entities import (
    UK_TAX_CODES,
    US_TAX_CODES,
    Rules,
    build_customer,
    build_invoice,
    void_fields,
)
from integrations_pipelines.sandbox.quickbooks_errors import (
    QboFault,
    invalid,
    not_found,
    qbo_time,
    required,
    stale,
)
from integrations_pipelines.sandbox.quickbooks_query import parse_query, run_query
from integrations_pipelines.sandbox.quickbooks_tokens import TokenAuthority
from integrations_pipelines.sandbox.quickbooks_webhooks import QuickBooksWebhooks
from integrations_pipelines.sandbox.shopify_store import atomic_write

SEED_ITEMS = [("1", "Sales"), ("2", "Shipping"), ("3", "Refunds"), ("4", "Gift cards outstanding"),
              ("5", "Duties"), ("6", "Tips"), ("7", "Additional fees")]
SETTINGS = ("multicurrency", "home_currency", "reject_astral_chars", "enforce_unique_docnumber",
            "country", "automated_sales_tax", "ast_rate", "tax_codes",
            "max_results_cap", "default_max_results", "per_second", "per_minute",
            "max_concurrent", "throttle_retry_after", "webhook_batch_seconds",
            "webhook_retry_scale", "cdc_max_objects")


class QuickBooksStore:
    """One QBO company (realm) and the app credentials allowed to reach it."""

    def __init__(
        self,
        *,
        realm_id: str = "9130357766900000",
        client_id: str = "sandbox-client-id",
        client_secret: str = "sandbox-client-secret",
        refresh_token: str = "sandbox-refresh-token-0",
        faults: Faults | FaultSettings | dict[str, Any] | None = None,
        multicurrency: bool = True,
        home_currency: str = "USD",
        reject_astral_chars: bool = True,
        enforce_unique_docnumber: bool = False,
        country: str = "US",
        automated_sales_tax: bool = False,
        ast_rate: str = "0.0825",
        tax_codes: dict[str, str] | None = None,
        max_results_cap: int = 1000,
        default_max_results: int = 100,
        per_second: int = 10,
        per_minute: int = 500,
        max_concurrent: int = 10,
        throttle_retry_after: float | None = None,
        access_token_lifetime: int = 3600,
        refresh_token_lifetime: int = 8726400,
        rotation_grace_seconds: float = 0.0,
        utc_offset_hours: float = -8,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        webhook_url: str | None = None,
        verifier_token: str = "sandbox-verifier-token",
        webhook_batch_seconds: float = 1.0,
        webhook_retry_scale: float = 0.1,
        cdc_max_objects: int = 1000,
    ) -> None:
        self.realm_id = realm_id
        self.webhook_batch_seconds = webhook_batch_seconds
        self.webhook_retry_scale = webhook_retry_scale
        self.cdc_max_objects = cdc_max_objects
        self.webhooks = QuickBooksWebhooks(self, webhook_url, verifier_token)
        self.faults = faults if isinstance(faults, Faults) else Faults(faults)
        codes = tax_codes if tax_codes is not None else (
            dict(US_TAX_CODES) if country == "US" else dict(UK_TAX_CODES))
        self.rules = Rules(multicurrency, home_currency, reject_astral_chars,
                           enforce_unique_docnumber, country, automated_sales_tax, ast_rate,
                           codes)
        self.max_concurrent = max_concurrent
        self.max_results_cap = max_results_cap
        self.default_max_results = default_max_results
        self.per_second = per_second
        self.per_minute = per_minute
        self.throttle_retry_after = throttle_retry_after
        self.utc_offset_hours = utc_offset_hours
        self.tokens = TokenAuthority(client_id, client_secret, refresh_token,
                                     access_lifetime=access_token_lifetime,
                                     refresh_lifetime=refresh_token_lifetime,
                                     rotation_grace_seconds=rotation_grace_seconds, clock=clock)
        self._clock, self._monotonic = clock, monotonic
        self._lock = threading.RLock()
        self._initial = (self.settings(), self.faults.snapshot(), self.tokens.snapshot())
        self._clear()

    def _clear(self) -> None:
        self.customers: dict[str, dict[str, Any]] = {}
        self.invoices: dict[str, dict[str, Any]] = {}
        self.items: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, dict[str, Any]] = {}
        self.deleted_at: dict[str, str] = {}  # invoice Id -> when it was deleted (QBO time)
        self.voided: set[str] = set()
        # requestid -> (status, the answer's JSON): kept as text, not as a tree of dicts
        # (about a fifth of the memory), so a company with a year of writes fits.
        self.replies: dict[str, tuple[int, bytes]] = {}
        self.stats: Counter[str] = Counter()
        self._hits: deque[float] = deque()  # requests of the last minute
        self._second: deque[float] = deque()  # requests of the last second
        self._next_id = 1
        income = {"value": "79", "name": "Sales of Product Income"}
        for ident, name in SEED_ITEMS:
            self.items[ident] = self._stamp(
                {"Id": ident, "Name": name, "FullyQualifiedName": name, "Type": "Service",
                 "Active": True, "UnitPrice": 0, "IncomeAccountRef": dict(income)}, new=True)
        self._next_id = 100

    # -- settings and clock --------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        """The company/API knobs (not faults): currency rules, limits, throttle."""
        values = {**asdict(self.rules)}
        values.update({k: getattr(self, k) for k in SETTINGS if k not in values})
        return values

    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change knobs at run time (e.g. `reject_astral_chars`)."""
        rule_names = {f.name for f in fields(Rules)}
        with self._lock:
            for key, value in changes.items():
                if key in rule_names:
                    setattr(self.rules, key, value)
                elif key in SETTINGS:
                    setattr(self, key, value)
                else:
                    raise ValueError(f"unknown setting {key!r}")
            return self.settings()

    def now_text(self) -> str:
        """Current time as QBO prints it."""
        return qbo_time(datetime.fromtimestamp(self._clock(), UTC), self.utc_offset_hours)

    def today(self) -> str:
        """Today's date in the company's time zone."""
        zone = timezone(timedelta(hours=self.utc_offset_hours))
        return datetime.fromtimestamp(self._clock(), zone).date().isoformat()

    def _stamp(self, entity: dict[str, Any], new: bool = False) -> dict[str, Any]:
        now = self.now_text()
        meta = dict(entity.get("MetaData") or {})
        if new or "CreateTime" not in meta:
            meta["CreateTime"] = now
        meta["LastUpdatedTime"] = now
        entity["MetaData"] = meta
        entity["SyncToken"] = "0" if new else str(int(entity.get("SyncToken", "0")) + 1)
        entity.setdefault("domain", "QBO")
        entity["sparse"] = False
        return entity

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    # -- throttle ------------------------------------------------------------------------
    def throttle(self) -> bool:
        """Count one API request; True if it exceeds 10/s or 500/min for the realm."""
        with self._lock:
            now = self._monotonic()
            while self._hits and now - self._hits[0] >= 60:
                self._hits.popleft()
            while self._second and now - self._second[0] >= 1:
                self._second.popleft()
            if len(self._second) >= self.per_second or len(self._hits) >= self.per_minute:
                self.stats["throttled"] += 1
                return True
            self._hits.append(now)
            self._second.append(now)
            return False

    # -- entity API (raises QboFault) ------------------------------------------------------
    def get(self, entity: str, ident: str) -> dict[str, Any]:
        """One live entity by Id (code 610 if missing or deleted)."""
        with self._lock:
            found = self._table(entity).get(str(ident))
            if found is None:
                raise not_found(entity, ident)
            return copy.deepcopy(found)

    def _table(self, entity: str) -> dict[str, dict[str, Any]]:
        return {"Customer": self.customers, "Invoice": self.invoices, "Item": self.items}[entity]

    def _current(self, entity: str, body: dict[str, Any]) -> dict[str, Any]:
        ident = body.get("Id")
        if ident is None:
            raise required("Id")
        found = self._table(entity).get(str(ident))
        if found is None:
            raise not_found(entity, ident)
        if body.get("SyncToken") is None:
            raise required("SyncToken")
        if str(body["SyncToken"]) != found["SyncToken"]:
            raise stale(entity)
        return found

    def save_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create (no Id) or update (Id + SyncToken, sparse or full) a customer."""
        with self._lock:
            existing = self._current("Customer", body) if "Id" in body else None
            others = list(self.customers.values())
            built = build_customer(body, existing, others, self.rules)
            if existing is None:
                built = self._stamp({"Id": self._new_id(), **built}, new=True)
            else:
                built = self._stamp({**built, "Id": existing["Id"],
                                     "SyncToken": existing["SyncToken"],
                                     "MetaData": existing["MetaData"]})
            self.customers[built["Id"]] = built
            self.stats["writes"] += 1
            self._changed("Customer", built, "Create" if existing is None else "Update")
            return copy.deepcopy(built)

    def save_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create (no Id) or update (Id + SyncToken; `sparse` merges) an invoice."""
        if not isinstance(body, dict):
            raise invalid("Request body must be an Invoice object")
        with self._lock:
            existing = self._current("Invoice", body) if "Id" in body else None
            built = build_invoice(
                body, existing, self.rules, customer=self.customers.get, item=self.items.get,
                doc_number_taken=self._doc_taken, today=self.today())
            if existing is None:
                built = self._stamp({"Id": self._new_id(), **built}, new=True)
            else:
                built = self._stamp({**built, "Id": existing["Id"],
                                     "SyncToken": existing["SyncToken"],
                                     "MetaData": existing["MetaData"]})
            self.invoices[built["Id"]] = built
            self.stats["writes"] += 1
            self._changed("Invoice", built, "Create" if existing is None else "Update")
            return copy.deepcopy(built)

    def _changed(self, entity: str, row: dict[str, Any], operation: str) -> None:
        self.webhooks.record(entity, row["Id"], operation, row["MetaData"]["LastUpdatedTime"])

    def _deleted(self, row: dict[str, Any]) -> None:
        self.deleted[row["Id"]] = row
        self.deleted_at[row["Id"]] = self.now_text()
        self.webhooks.record("Invoice", row["Id"], "Delete", self.deleted_at[row["Id"]])

    def _doc_taken(self, doc: str, own_id: str | None) -> bool:
        return any(i.get("DocNumber") == doc and i["Id"] != own_id
                   for i in self.invoices.values())

    def void_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """Void: the invoice stays, with zero amounts and a "Voided" note."""
        with self._lock:
            current = self._current("Invoice", body)
            voided = self._stamp(void_fields(current))
            self.invoices[voided["Id"]] = voided
            self.voided.add(voided["Id"])
            self.stats["writes"] += 1
            self._changed("Invoice", voided, "Void")
            return copy.deepcopy(voided)

    def delete_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        """Delete: gone from reads and queries; returns QBO's deleted stub."""
        with self._lock:
            current = self._current("Invoice", body)
            self._deleted(self.invoices.pop(current["Id"]))
            self.stats["writes"] += 1
            return {"status": "Deleted", "domain": "QBO", "Id": current["Id"]}

    def query(self, text: str) -> dict[str, Any]:
        """Run a query; returns the `QueryResponse` object."""
        parsed = parse_query(text)
        with self._lock:  # evaluated on the live rows; only the answer is copied
            return copy.deepcopy(run_query(
                parsed, list(self._table(parsed.entity).values()),
                default_max=self.default_max_results, max_cap=self.max_results_cap,
                offset_hours=self.utc_offset_hours))

    def change_log(self, entity: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """For change data capture: an entity's live rows and (invoices) deletion times."""
        with self._lock:
            rows = copy.deepcopy(list(self._table(entity).values()))
            return rows, dict(self.deleted_at) if entity == "Invoice" else {}

    # -- requestid -----------------------------------------------------------------------
    def replay(self, request_id: str) -> tuple[int, dict[str, Any]] | None:
        """The original answer to a write with this requestid, if any."""
        with self._lock:
            found = self.replies.get(request_id)
            if found is None:
                return None
            self.stats["requestid_replays"] += 1
            return found[0], json.loads(found[1])

    def remember(self, request_id: str, status: int, body: dict[str, Any]) -> None:
        """Keep a write's answer for retries with the same requestid."""
        with self._lock:
            self.replies[request_id] = (status, json.dumps(body, separators=(",", ":"))
                                        .encode())

    # -- bookkeeper / admin --------------------------------------------------------------
    def all_invoices(self) -> list[dict[str, Any]]:
        """Every invoice, live, voided and deleted, flagged `_sandbox_status`."""
        with self._lock:
            rows = [{**copy.deepcopy(i), "_sandbox_status":
                     "voided" if k in self.voided else "active"}
                    for k, i in self.invoices.items()]
            rows += [{**copy.deepcopy(i), "_sandbox_status": "deleted"}
                     for i in self.deleted.values()]
        return sorted(rows, key=lambda r: int(r["Id"]))

    def all_customers(self) -> list[dict[str, Any]]:
        """Every customer."""
        with self._lock:
            rows = copy.deepcopy(list(self.customers.values()))
        return sorted(rows, key=lambda r: int(r["Id"]))

    def insert_invoice_raw(self, invoice: dict[str, Any]) -> dict[str, Any]:
        """Store an invoice as given (no validation, no requestid), e.g. a duplicate."""
        with self._lock:
            row = self._stamp({**copy.deepcopy(invoice), "Id": str(invoice.get("Id") or
                                                                  self._new_id())}, new=True)
            self.invoices[row["Id"]] = row
            self._changed("Invoice", row, "Create")
            return copy.deepcopy(row)

    def patch_invoice_raw(self, ident: str, changes: dict[str, Any]) -> dict[str, Any]:
        """A bookkeeper's edit in the QBO UI: fields set directly, SyncToken bumped."""
        with self._lock:
            current = self.invoices.get(str(ident))
            if current is None:
                raise not_found("Invoice", ident)
            row = self._stamp({**current, **copy.deepcopy(changes), "Id": current["Id"],
                               "SyncToken": current["SyncToken"]})
            self.invoices[row["Id"]] = row
            self._changed("Invoice", row, "Update")
            return copy.deepcopy(row)

    def delete_invoice_raw(self, ident: str) -> bool:
        """A bookkeeper deletes an invoice in the UI."""
        with self._lock:
            row = self.invoices.pop(str(ident), None)
            if row is not None:
                self._deleted(row)
            return row is not None

    def reset(self) -> None:
        """Back to the construction state: seed items only, initial knobs and tokens, the
        initial webhook endpoint and nothing queued to send."""
        with self._lock:
            self.webhooks.reset()
            self._clear()
            self.update_settings(self._initial[0])
            self.faults.reset()
            self.faults.update(self._initial[1])
            self.tokens.restore(copy.deepcopy(self._initial[2]))

    def close(self) -> None:
        """Stop the webhook sender thread (the server's `stop` calls this)."""
        self.webhooks.close()

    # -- persistence ---------------------------------------------------------------------
    def to_json(self) -> str:
        """The company (entities, requestid answers, tokens, settings) as JSON."""
        with self._lock:
            return json.dumps({
                "realm_id": self.realm_id, "settings": self.settings(),
                "client": [self.tokens.client_id, self.tokens.client_secret],
                "tokens": self.tokens.snapshot(), "customers": self.customers,
                "invoices": self.invoices, "deleted": self.deleted,
                "voided": sorted(self.voided), "next_id": self._next_id,
                "replies": {k: [v[0], json.loads(v[1])] for k, v in self.replies.items()},
                "deleted_at": self.deleted_at, "webhooks": self.webhooks.settings(),
            })

    @classmethod
    def from_json(cls, text: str, **kwargs: Any) -> QuickBooksStore:
        """Rebuild a store saved with `to_json`."""
        data = json.loads(text)
        store = cls(realm_id=data["realm_id"], client_id=data["client"][0],
                    client_secret=data["client"][1],
                    refresh_token=data["tokens"]["current_refresh_token"], **kwargs)
        store.update_settings(data["settings"])
        store.tokens.restore(data["tokens"])
        store.customers, store.invoices = data["customers"], data["invoices"]
        store.deleted, store.voided = data["deleted"], set(data["voided"])
        store._next_id = int(data["next_id"])
        store.replies = {k: (v[0], json.dumps(v[1], separators=(",", ":")).encode())
                         for k, v in data["replies"].items()}
        store.deleted_at = dict(data.get("deleted_at", {}))
        saved = data.get("webhooks", {})  # what the caller passes wins over what was saved
        store.webhooks.configure(
            url=None if "webhook_url" in kwargs else saved.get("url"),
            verifier_token=None if "verifier_token" in kwargs else saved.get("verifier_token"),
            entities=saved.get("entities"))
        return store

    def save(self, path: str | Path) -> None:
        """Persist atomically (temp file + rename)."""
        atomic_write(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> QuickBooksStore:
        """Load a store saved with `save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"), **kwargs)


__all__ = ["QboFault", "QuickBooksStore"]
