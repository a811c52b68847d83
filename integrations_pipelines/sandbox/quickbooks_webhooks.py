"""The QuickBooks sandbox's webhook notifications, as Intuit sends them.

Facts from Intuit's docs ("Managing webhooks notifications", developer.intuit.com; blog posts
"Introducing our new webhooks page", 2024-12-02, and "Introducing enhanced webhooks
monitoring", 2025-10-14):
- the endpoint and the verifier token are set per app in the developer portal, not through
  the API: here `POST /_sandbox/webhooks` (or the store's `webhook_url` / `verifier_token`);
- Intuit aggregates changes and sends them in one POST: near real time for sandbox
  companies, every 1, 3 or 5 minutes (the app's choice) in production. The sandbox batches
  what happened within `webhook_batch_seconds` (default 1.0) of the first queued change;
- the body is `{"eventNotifications": [{"realmId", "dataChangeEvent": {"entities":
  [{"name", "id", "operation", "lastUpdated"}]}}]}`, one realm per notification, signed in
  `intuit-signature` (base64 HMAC-SHA256 of the raw body with the verifier token). There is
  no delivery id: a redelivery repeats the same bytes;
- the endpoint must answer 200 within 3 seconds; otherwise Intuit retries at 0 s, 10 s, 20 s,
  30 s, 5 min, 20 min, 2 h, 4 h, 6 h and then every 6 h, and events are delivered in the order
  they happened: nothing later is sent until the first one is acknowledged. The sandbox keeps
  that schedule, scaled by `webhook_retry_scale` (default 0.1: 0, 1, 2, 3, 30 s, ...).
Not modelled: Intuit's move of the payload to the CloudEvents format (mandatory in 2026);
this sandbox sends the `eventNotifications` format the project's receiver reads.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from integrations_pipelines.sandbox.webhook_sender import WebhookSender
from integrations_pipelines.vendors.quickbooks.webhooks import sign

if TYPE_CHECKING:
    from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore

__all__ = ["OPERATIONS", "RETRY_SECONDS", "TIMEOUT_SECONDS", "Notification", "QuickBooksWebhooks"]

RETRY_SECONDS = (0, 10, 20, 30, 300, 1200, 7200, 14400, 21600)  # then 21600 forever
TIMEOUT_SECONDS = 3.0
OPERATIONS = frozenset({"Create", "Update", "Delete", "Void", "Merge", "Emailed"})


@dataclass(eq=False)
class Notification:
    """One POST: the entity changes of one batch, its fixed body, and how sending went."""

    body: bytes
    entities: int
    status: str = "pending"  # pending | delivered | dropped
    attempts: int = 0
    last_status: int | None = None
    due: float = 0.0
    duplicate: bool = False
    url: str = ""

    def log(self) -> dict[str, Any]:
        """The admin view (`GET /_sandbox/webhooks/deliveries`)."""
        return {"entities": self.entities, "status": self.status, "attempts": self.attempts,
                "last_status": self.last_status, "duplicate": self.duplicate,
                "url": self.url, "body": json.loads(self.body)}


@dataclass
class _Change:
    entity: dict[str, str]
    queued: float = field(default_factory=time.monotonic)


class QuickBooksWebhooks(WebhookSender):
    """The app's webhook endpoint configuration and the ordered notification queue."""

    def __init__(self, store: QuickBooksStore, url: str | None, verifier_token: str,
                 entities: tuple[str, ...] = ("Invoice",)) -> None:
        super().__init__(f"quickbooks-webhooks-{store.realm_id}-{id(self):x}", TIMEOUT_SECONDS)
        self.store = store
        self.url, self.verifier_token, self.entities = url, verifier_token, entities
        self._initial = (url, verifier_token, entities)
        self._lock = threading.RLock()
        self._changes: list[_Change] = []
        self._notifications: list[Notification] = []

    def configure(self, url: str | None = None, verifier_token: str | None = None,
                  entities: list[str] | None = None) -> dict[str, Any]:
        """What the developer portal's webhooks page sets; returns the configuration."""
        with self._lock:
            if url is not None:
                self.url = url or None
            if verifier_token is not None:
                self.verifier_token = verifier_token
            if entities is not None:
                self.entities = tuple(entities)
            return self.settings()

    def settings(self) -> dict[str, Any]:
        """The endpoint configuration (`GET /_sandbox/webhooks`)."""
        return {"url": self.url, "verifier_token": self.verifier_token,
                "entities": list(self.entities)}

    def record(self, name: str, ident: str, operation: str, last_updated: str) -> None:
        """An entity changed in the company (through the API or in the UI): queue it."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown webhook operation {operation!r}")
        with self._lock:
            if self.url is None or name not in self.entities:
                return  # no endpoint configured, or not subscribed to that entity
            stamp = _utc_millis(last_updated)
            self._changes.append(_Change({"name": name, "id": str(ident),
                                          "operation": operation, "lastUpdated": stamp}))
            self.store.stats["webhook_entities_queued"] += 1
        self.poke()

    def _batch(self, now: float) -> None:
        """Close the batch once its first change has waited `webhook_batch_seconds`."""
        if not self._changes or now - self._changes[0].queued < self.store.webhook_batch_seconds:
            return
        changes, self._changes = self._changes, []
        body = json.dumps({"eventNotifications": [{
            "realmId": self.store.realm_id,
            "dataChangeEvent": {"entities": [c.entity for c in changes]}}]}).encode()
        faults = self.store.faults
        made = Notification(body, len(changes), due=now, url=self.url or "")
        faults.webhooks_paused(count=True)
        self._notifications.append(made)
        if faults.roll_webhook("webhook_drop_rate"):
            made.status = "dropped"
            self.store.stats["webhooks_dropped"] += 1
        elif faults.roll_webhook("webhook_duplicate_rate"):
            self._notifications.append(Notification(body, len(changes), due=now,
                                                    duplicate=True, url=made.url))
            self.store.stats["webhooks_duplicated"] += 1

    def pending(self) -> bool:
        with self._lock:
            return bool(self._changes) or any(n.status == "pending" for n in self._notifications)

    def step(self, client: httpx.Client) -> float | None:
        now = time.monotonic()
        with self._lock:
            self._batch(now)
            head = next((n for n in self._notifications if n.status == "pending"), None)
            if head is None or self.store.faults.webhooks_paused():
                if self._changes:
                    return self._changes[0].queued + self.store.webhook_batch_seconds - now
                return None
            if head.due > now:
                return head.due - now  # in order: later notifications wait behind it
            head.attempts += 1
            headers = {"Content-Type": "application/json",
                       "intuit-signature": sign(head.body, self.verifier_token)}
        status = self.post(client, head.url, head.body, headers)
        with self._lock:
            head.last_status = status
            if status == 200:
                head.status = "delivered"
                self.store.stats["webhooks_delivered"] += 1
            else:
                delay = RETRY_SECONDS[min(head.attempts - 1, len(RETRY_SECONDS) - 1)]
                head.due = time.monotonic() + delay * self.store.webhook_retry_scale
                self.store.stats["webhooks_retried"] += 1
        return 0

    def deliveries(self) -> list[dict[str, Any]]:
        """Every notification since the last reset, oldest first."""
        with self._lock:
            return [n.log() for n in self._notifications]

    def reset(self) -> None:
        """The construction-time endpoint again, nothing queued."""
        with self._lock:
            self.url, self.verifier_token, self.entities = self._initial
            self._changes, self._notifications = [], []


def _utc_millis(text: str) -> str:
    """A QBO timestamp (company offset) as the notification prints it: UTC, ms, `Z`."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
