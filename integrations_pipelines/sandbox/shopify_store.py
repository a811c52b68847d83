"""In-memory state of the Shopify sandbox: the shop's orders, its rate-limit bucket, faults.

The store is what a merchant changes in the Shopify admin (refunds, cancellations, edits),
so every admin operation is a plain method here as well as an HTTP endpoint. Each change
also fires the webhooks Shopify fires for it (`store.webhooks`, see `shopify_webhooks`):
a new order `orders/create`; a changed one `orders/updated`; a refund `refunds/create` (the
refund) and `orders/updated`; a cancellation `orders/cancelled` and `orders/updated` (and
`refunds/create` when cancelling refunds a paid order); a deletion `orders/delete`
(`{"id": ...}`). Thread-safe: the server thread, the webhook sender and the test thread may
all use it.
"""

from __future__ import annotations

import copy
import json
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from integrations_pipelines.sandbox.faults import Faults, FaultSettings
from integrations_pipelines.sandbox.shopify_orders import (
    apply_cancel,
    apply_refund,
    bump_updated,
    parse_time,
)
from integrations_pipelines.sandbox.shopify_webhooks import ShopifyWebhooks

__all__ = ["LeakyBucket", "ShopifyStore", "atomic_write"]


class LeakyBucket:
    """Shopify's REST rate limit: a bucket of `capacity` requests leaking `leak_rate`/s."""

    def __init__(self, capacity: int = 40, leak_rate: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.leak_rate = leak_rate
        self._clock = clock
        self._level = 0.0
        self._stamp = clock()
        self._lock = threading.Lock()

    def _leak(self) -> None:
        now = self._clock()
        self._level = max(0.0, self._level - (now - self._stamp) * self.leak_rate)
        self._stamp = now

    def acquire(self) -> tuple[bool, int, float]:
        """Take one request: (allowed, used after the call, seconds until a slot frees)."""
        with self._lock:
            self._leak()
            if self._level + 1 > self.capacity:
                wait = (self._level + 1 - self.capacity) / self.leak_rate
                return False, self.capacity, wait
            self._level += 1
            return True, int(-(-self._level // 1)), 0.0

    def used(self) -> int:
        """Requests currently in the bucket (rounded up)."""
        with self._lock:
            self._leak()
            return int(-(-self._level // 1))

    def reset(self) -> None:
        """Empty the bucket."""
        with self._lock:
            self._level, self._stamp = 0.0, self._clock()


class ShopifyStore:
    """One shop: orders keyed by id, the access token it accepts, its bucket and faults."""

    def __init__(
        self,
        orders: Iterable[dict[str, Any]] = (),
        *,
        access_token: str = "shpat_sandbox_token",
        shop_domain: str = "sandbox-shop.myshopify.com",
        bucket_capacity: int = 40,
        leak_rate: float = 2.0,
        faults: Faults | FaultSettings | dict[str, Any] | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        webhook_secret: str = "sandbox-webhook-secret",
        webhook_retry_base_seconds: float = 1.0,
        webhook_removal_after: int = 1,
    ) -> None:
        self.access_token = access_token
        self.shop_domain = shop_domain
        self.webhook_secret = webhook_secret  # the app's client secret: signs deliveries
        self.bucket = LeakyBucket(bucket_capacity, leak_rate, clock)
        self.faults = faults if isinstance(faults, Faults) else Faults(faults)
        self._initial_faults = self.faults.snapshot()
        self.now = now
        self.stats: Counter[str] = Counter()
        self._lock = threading.RLock()
        self._initial = [copy.deepcopy(o) for o in orders]
        self._orders: dict[int, dict[str, Any]] = {}
        self._next_id = 9_100_000_000_000_000_000
        self.webhooks = ShopifyWebhooks(self, webhook_retry_base_seconds, webhook_removal_after)
        self.upsert_orders(self._initial)

    # -- reading -------------------------------------------------------------------------
    def list_orders(self) -> list[dict[str, Any]]:
        """Every order, raw (no drift applied), sorted by id."""
        with self._lock:
            return [copy.deepcopy(self._orders[k]) for k in sorted(self._orders)]

    def get_order(self, order_id: int) -> dict[str, Any] | None:
        """One order, raw, or None."""
        with self._lock:
            order = self._orders.get(int(order_id))
            return copy.deepcopy(order) if order is not None else None

    def select(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
        """Orders matching Shopify list filters (already parsed), sorted by id ascending."""
        status = filters.get("status", "open")
        ids = set(filters.get("ids") or [])
        bounds = {k: parse_time(v) for k, v in filters.items() if k.endswith(("_min", "_max"))}
        found = []
        with self._lock:
            for key in sorted(self._orders):
                order = self._orders[key]
                if ids and key not in ids:
                    continue
                if filters.get("since_id") and key <= int(filters["since_id"]):
                    continue
                if not _status_matches(order, status):
                    continue
                if filters.get("financial_status") not in (None, "any") and (
                        order.get("financial_status") != filters["financial_status"]):
                    continue
                if not all(_in_bound(order, k, v) for k, v in bounds.items()):
                    continue
                found.append(copy.deepcopy(order))
        return found

    # -- merchant actions ----------------------------------------------------------------
    def upsert_orders(self, orders: Iterable[dict[str, Any]]) -> int:
        """Insert or replace orders by id (orders/create or orders/updated); returns how many."""
        count = 0
        with self._lock:
            for order in orders:
                key = int(order["id"])
                topic = "orders/updated" if key in self._orders else "orders/create"
                self._orders[key] = copy.deepcopy(order)
                self.webhooks.emit(topic, order)
                count += 1
        return count

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _require(self, order_id: int) -> dict[str, Any]:
        order = self._orders.get(int(order_id))
        if order is None:
            raise KeyError(order_id)
        return order

    def _when(self, at: datetime | str | None) -> datetime:
        if at is None:
            return self.now()
        return parse_time(at) if isinstance(at, str) else at

    def refund_order(self, order_id: int, amount: str | float, note: str | None = None,
                     at: datetime | str | None = None) -> dict[str, Any]:
        """Refund `amount` (presentment currency); returns the new refund."""
        with self._lock:
            order = self._require(order_id)
            refund = apply_refund(
                order, amount=str(amount), at=self._when(at), refund_id=self._take_id(),
                transaction_id=self._take_id(), note=note)
            self.webhooks.emit("refunds/create", refund)
            self.webhooks.emit("orders/updated", order)
            return copy.deepcopy(refund)

    def cancel_order(self, order_id: int, reason: str | None = None,
                     at: datetime | str | None = None) -> dict[str, Any]:
        """Cancel an order (voided if unpaid, else refunded); returns the order."""
        with self._lock:
            order = self._require(order_id)
            refunds_before = len(order.get("refunds") or [])
            apply_cancel(order, at=self._when(at), reason=reason or "other",
                         refund_id=self._take_id(), transaction_id=self._take_id())
            for refund in (order.get("refunds") or [])[refunds_before:]:
                self.webhooks.emit("refunds/create", refund)
            self.webhooks.emit("orders/cancelled", order)
            self.webhooks.emit("orders/updated", order)
            return copy.deepcopy(order)

    def patch_order(self, order_id: int, changes: dict[str, Any],
                    at: datetime | str | None = None) -> dict[str, Any]:
        """Merge top-level fields into an order and bump `updated_at`."""
        with self._lock:
            order = self._require(order_id)
            order.update(copy.deepcopy({k: v for k, v in changes.items() if k != "id"}))
            if "updated_at" not in changes:
                bump_updated(order, self._when(at))
            self.webhooks.emit("orders/updated", order)
            return copy.deepcopy(order)

    def delete_order(self, order_id: int) -> bool:
        """Remove an order (orders/delete); False if there was none."""
        with self._lock:
            found = self._orders.pop(int(order_id), None) is not None
            if found:
                self.webhooks.emit("orders/delete", {"id": int(order_id)})
            return found

    def reset(self) -> None:
        """Back to the construction state: initial orders and faults, empty bucket, no stats,
        no webhook subscriptions and nothing queued to send."""
        with self._lock:
            self.webhooks.reset()
            self._orders = {}
            self.upsert_orders(self._initial)
            self.faults.reset()
            self.faults.update(self._initial_faults)
            self.bucket.reset()
            self.stats.clear()

    def close(self) -> None:
        """Stop the webhook sender thread (the server's `stop` calls this)."""
        self.webhooks.close()

    # -- persistence ---------------------------------------------------------------------
    def to_json(self) -> str:
        """The shop's orders and webhook subscriptions as JSON (ids stay exact integers)."""
        return json.dumps({"orders": self.list_orders(), "access_token": self.access_token,
                           "next_id": self._next_id, "webhooks": self.webhooks.snapshot()})

    @classmethod
    def from_json(cls, text: str, **kwargs: Any) -> ShopifyStore:
        """Rebuild a store saved with `to_json`."""
        data = json.loads(text)
        kwargs.setdefault("access_token", data.get("access_token", "shpat_sandbox_token"))
        store = cls(data["orders"], **kwargs)
        store._next_id = max(store._next_id, int(data.get("next_id", 0)))
        store.webhooks.restore(data.get("webhooks", []))
        return store

    def save(self, path: str | Path) -> None:
        """Persist atomically (temp file + rename) so a dev sandbox survives restarts."""
        atomic_write(Path(path), self.to_json())

    @classmethod
    def load(cls, path: str | Path, **kwargs: Any) -> ShopifyStore:
        """Load a store saved with `save`."""
        return cls.from_json(Path(path).read_text(encoding="utf-8"), **kwargs)


def atomic_write(path: Path, text: str) -> None:
    """Write `text` to `path` via a temp file in the same folder and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _status_matches(order: dict[str, Any], status: str) -> bool:
    if status == "any":
        return True
    if status == "cancelled":
        return order.get("cancelled_at") is not None
    if status == "closed":
        return order.get("closed_at") is not None
    return order.get("closed_at") is None and order.get("cancelled_at") is None


def _in_bound(order: dict[str, Any], key: str, bound: datetime) -> bool:
    field = key[: -len("_min")]
    value = order.get(field)
    if value is None:
        return False
    moment = parse_time(value)
    return moment >= bound if key.endswith("_min") else moment <= bound
