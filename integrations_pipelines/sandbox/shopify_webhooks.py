"""The Shopify sandbox's webhook subscriptions and deliveries, as Shopify runs them.

What the app sees, and what its receiver must survive (Shopify's docs: "About webhooks",
"HTTPS delivery", "Troubleshooting webhooks", changelog "Updates to webhook retry mechanism",
2024-09-10):
- a subscription (REST `webhooks.json`) per (topic, address), serialized with its API version;
- a delivery is a POST of the bare resource (the order, or the refund for `refunds/create`)
  signed with the app's client secret (`X-Shopify-Hmac-Sha256`), with `X-Shopify-Topic`,
  `-Shop-Domain`, `-API-Version`, `-Webhook-Id` (the same on every retry: the dedupe key),
  `-Triggered-At` and `-Event-Id`;
- Shopify waits 5 s for a 2xx, then retries 8 times over 4 hours with exponential backoff,
  always with the payload from the moment it was triggered, to the address of that moment.
  The sandbox keeps the 8 retries and compresses the schedule: `retry_base_seconds` (store
  kwarg `webhook_retry_base_seconds`, default 1.0), doubling (1, 2, 4, ... 128 s);
- "if failures persist past that point the webhook subscription is removed" (troubleshooting
  doc; only for subscriptions made through the Admin API, which these are). Modelled as: once
  `removal_after` consecutive deliveries of a subscription have exhausted their retries, it is
  deleted (default 1, as the docs describe; a delivered webhook resets the count). Deliveries
  already queued for it still run out their retries.
- no ordering guarantee, occasional duplicates, and webhooks that "stop firing": the fault
  knobs in `faults.py` make each of those happen on demand.
Subscriptions persist with the store (`to_json`); queued deliveries do not.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC
from typing import TYPE_CHECKING, Any

import httpx

from integrations_pipelines.sandbox.webhook_sender import WebhookSender
from integrations_pipelines.vendors.shopify.webhooks import TOPICS, sign

if TYPE_CHECKING:
    from integrations_pipelines.sandbox.shopify_store import ShopifyStore

__all__ = [
    "MAX_HOLD_SECONDS",
    "RETRIES",
    "SUPPORTED_TOPICS",
    "TIMEOUT_SECONDS",
    "Delivery",
    "ShopifyWebhooks",
    "Subscription",
    "SubscriptionError",
]

SUPPORTED_TOPICS = frozenset(TOPICS | {"orders/delete", "app/uninstalled"})
RETRIES = 8  # Shopify: 8 retries over 4 hours
TIMEOUT_SECONDS = 5.0  # Shopify: 1 s to connect, 5 s in all
MAX_HOLD_SECONDS = 2.0  # a reordered delivery waits at most this long for a successor


class SubscriptionError(Exception):
    """A rejected subscription, answered 422 with Shopify's `{"errors": {field: [...]}}`."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class Subscription:
    """One webhook subscription, as the REST resource shows it."""

    id: int
    address: str
    topic: str
    created_at: str
    updated_at: str
    api_version: str
    format: str = "json"
    fields: list[str] = field(default_factory=list)
    metafield_namespaces: list[str] = field(default_factory=list)


@dataclass(eq=False)
class Delivery:
    """One webhook on its way to one subscription (a duplicate is a second Delivery)."""

    webhook_id: str
    event_id: str
    topic: str
    subscription_id: int
    address: str
    api_version: str
    body: bytes
    triggered_at: str
    status: str = "pending"  # pending | delivered | failed | dropped
    attempts: int = 0
    last_status: int | None = None
    due: float = 0.0
    duplicate: bool = False
    held_behind: Delivery | None = None  # reordered: waits until that one has been sent
    hold_until: float = 0.0

    def log(self) -> dict[str, Any]:
        """The admin view of the delivery (`GET /_sandbox/webhooks/deliveries`)."""
        return {"webhook_id": self.webhook_id, "event_id": self.event_id, "topic": self.topic,
                "subscription_id": self.subscription_id, "address": self.address,
                "attempts": self.attempts, "status": self.status,
                "last_status": self.last_status, "triggered_at": self.triggered_at,
                "duplicate": self.duplicate}


class ShopifyWebhooks(WebhookSender):
    """The shop's subscriptions and the queue of deliveries Shopify pushes to them."""

    def __init__(self, store: ShopifyStore, retry_base_seconds: float = 1.0,
                 removal_after: int = 1) -> None:
        super().__init__(f"shopify-webhooks-{store.shop_domain}-{id(self):x}", TIMEOUT_SECONDS)
        self.store = store
        self.retry_base_seconds = retry_base_seconds
        self.removal_after = removal_after
        self._lock = threading.RLock()
        self._subscriptions: dict[int, Subscription] = {}
        self._failures: dict[int, int] = {}
        self._deliveries: list[Delivery] = []
        self._held: list[Delivery] = []
        self._ids = itertools.count(1_340_000_000_001)

    # -- the REST resource -------------------------------------------------------------------
    def subscribe(self, topic: Any, address: Any, api_version: str,
                  fmt: Any = "json") -> dict[str, Any]:
        """Create a subscription; SubscriptionError for what Shopify answers 422."""
        if not isinstance(topic, str) or topic not in SUPPORTED_TOPICS:
            raise SubscriptionError({"topic": [
                f"Invalid topic specified: {topic}. Does it exist? Is there a missing access "
                f"scope? Topics allowed: {', '.join(sorted(SUPPORTED_TOPICS))}"]})
        url = httpx.URL(address) if isinstance(address, str) and address else None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            raise SubscriptionError({"address": ["is invalid"]})
        if fmt not in ("json", None):
            raise SubscriptionError({"format": ["is not included in the list"]})
        with self._lock:
            if any(s.topic == topic and s.address == address
                   for s in self._subscriptions.values()):
                raise SubscriptionError({"address": ["for this topic has already been taken"]})
            now = self.store.now().isoformat(timespec="seconds")
            made = Subscription(next(self._ids), address, topic, now, now, api_version)
            self._subscriptions[made.id] = made
            return asdict(made)

    def subscriptions(self, topic: str | None = None,
                      address: str | None = None) -> list[dict[str, Any]]:
        """Subscriptions by id, optionally only those of a topic and/or an address."""
        with self._lock:
            return [asdict(s) for k, s in sorted(self._subscriptions.items())
                    if topic in (None, s.topic) and address in (None, s.address)]

    def subscription(self, ident: int) -> dict[str, Any] | None:
        """One subscription, or None."""
        with self._lock:
            found = self._subscriptions.get(int(ident))
            return asdict(found) if found else None

    def unsubscribe(self, ident: int) -> bool:
        """Delete a subscription: no new deliveries for it; False if there was none."""
        with self._lock:
            self._failures.pop(int(ident), None)
            return self._subscriptions.pop(int(ident), None) is not None

    # -- events --------------------------------------------------------------------------------
    def emit(self, topic: str, resource: dict[str, Any]) -> None:
        """Something happened in the shop: queue one delivery per subscription to `topic`."""
        with self._lock:
            targets = [s for s in self._subscriptions.values() if s.topic == topic]
            if not targets:
                return
            body = json.dumps(resource, separators=(",", ":")).encode()
            triggered = self.store.now().astimezone(UTC).isoformat(timespec="microseconds")
            triggered = triggered.replace("+00:00", "Z")
            event_id = str(uuid.uuid4())
            faults, now = self.store.faults, time.monotonic()
            for sub in targets:
                made = Delivery(str(uuid.uuid4()), event_id, topic, sub.id, sub.address,
                                sub.api_version, body, triggered, due=now)
                faults.webhooks_paused(count=True)
                self._deliveries.append(made)
                for held in self._held:  # what was held back goes after this one
                    held.held_behind, held.hold_until = made, now + MAX_HOLD_SECONDS
                self._held = []
                if faults.roll_webhook("webhook_drop_rate"):
                    made.status = "dropped"
                    self.store.stats["webhooks_dropped"] += 1
                    continue
                copies = [made]
                if faults.roll_webhook("webhook_duplicate_rate"):
                    copies.append(replace(made, duplicate=True))
                    self._deliveries.append(copies[-1])
                    self.store.stats["webhooks_duplicated"] += 1
                if faults.roll_webhook("webhook_reorder_rate"):
                    for held in copies:
                        held.hold_until = now + MAX_HOLD_SECONDS
                    self._held.extend(copies)
                    self.store.stats["webhooks_reordered"] += 1
        self.poke()

    # -- the sender ------------------------------------------------------------------------------
    def _ready(self, delivery: Delivery, now: float) -> bool:
        if delivery.status != "pending" or delivery.due > now:
            return False
        if delivery in self._held or (delivery.held_behind is not None
                                      and delivery.held_behind.status == "pending"):
            return now >= delivery.hold_until
        return True

    def pending(self) -> bool:
        with self._lock:
            return any(d.status == "pending" for d in self._deliveries)

    def step(self, client: httpx.Client) -> float | None:
        if self.store.faults.webhooks_paused():
            return None
        now = time.monotonic()
        with self._lock:
            ready = next((d for d in self._deliveries if self._ready(d, now)), None)
            if ready is None:
                waits = [max(d.due, d.hold_until) - now for d in self._deliveries
                         if d.status == "pending"]
                return max(min(waits), 0.001) if waits else None
            if ready in self._held:
                self._held.remove(ready)
            ready.attempts += 1
            headers = self._headers(ready)
        status = self.post(client, ready.address, ready.body, headers)
        with self._lock:
            self._settle(ready, status)
        return 0

    def _headers(self, delivery: Delivery) -> dict[str, str]:
        return {"Content-Type": "application/json", "User-Agent": "Shopify-Captain-Hook",
                "X-Shopify-Topic": delivery.topic,
                "X-Shopify-Hmac-Sha256": sign(delivery.body, self.store.webhook_secret),
                "X-Shopify-Shop-Domain": self.store.shop_domain,
                "X-Shopify-API-Version": delivery.api_version,
                "X-Shopify-Webhook-Id": delivery.webhook_id,
                "X-Shopify-Triggered-At": delivery.triggered_at,
                "X-Shopify-Event-Id": delivery.event_id}

    def _settle(self, delivery: Delivery, status: int | None) -> None:
        """Record one attempt: delivered, retried later, or failed (and maybe unsubscribed)."""
        stats = self.store.stats
        delivery.last_status = status
        if status is not None and 200 <= status < 300:
            delivery.status = "delivered"
            stats["webhooks_delivered"] += 1
            if delivery.subscription_id in self._subscriptions:
                self._failures[delivery.subscription_id] = 0
            return
        if delivery.attempts <= RETRIES:
            delivery.due = time.monotonic() + self.retry_base_seconds * 2 ** (
                delivery.attempts - 1)
            stats["webhooks_retried"] += 1
            return
        delivery.status = "failed"
        stats["webhooks_failed"] += 1
        sub = delivery.subscription_id
        if sub in self._subscriptions:
            self._failures[sub] = self._failures.get(sub, 0) + 1
            if self._failures[sub] >= self.removal_after:
                self.unsubscribe(sub)
                stats["webhook_subscriptions_removed"] += 1

    # -- admin -------------------------------------------------------------------------------
    def deliveries(self) -> list[dict[str, Any]]:
        """Every delivery queued since the last reset, oldest first."""
        with self._lock:
            return [d.log() for d in self._deliveries]

    def reset(self) -> None:
        """No subscriptions, nothing queued (the sender thread keeps running, idle)."""
        with self._lock:
            self._subscriptions, self._failures = {}, {}
            self._deliveries, self._held = [], []

    def snapshot(self) -> list[dict[str, Any]]:
        """The subscriptions, for the store's `to_json`."""
        return self.subscriptions()

    def restore(self, saved: list[dict[str, Any]]) -> None:
        """Bring back subscriptions saved by `snapshot`."""
        with self._lock:
            for item in saved:
                self._subscriptions[int(item["id"])] = Subscription(**item)
            top = max(self._subscriptions, default=1_340_000_000_000)
            self._ids = itertools.count(top + 1)
