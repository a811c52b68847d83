"""The Stripe sandbox's account: its objects, their events, and how money moves between them.

One `StripeLedger` holds a Stripe account as Stripe would state it: charges, refunds,
disputes, payouts and the balance transactions each of them moved, plus the event log
(`/v1/events`) with a snapshot of the object at each change. Every change goes through its
methods, so the ledger's own arithmetic always holds: a balance transaction's `net` is
`amount - fee`; a charge in a currency the account does not settle in is converted at a
rate (`exchange_rate`) into the settlement currency (`usd`), with a conversion fee; an
automatic payout gathers every available balance transaction of its currency not yet paid
out, and its `amount` is the sum of their `net`.
"""

from __future__ import annotations

import copy
import json
import random
import string
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = ["SETTLEMENT", "StripeLedger", "dt", "unix"]

SETTLEMENT = ("usd", "eur")  # currencies the account holds a balance in
# Settlement-currency units per presentment-currency major unit (the sandbox's fixed rates).
RATES = {"gbp": 1.27, "jpy": 0.0067, "krw": 0.00073, "bhd": 2.65, "kwd": 3.25, "cad": 0.73}
ZERO = {"jpy", "krw"}
THREE = {"bhd", "kwd"}
ALPHABET = string.ascii_letters + string.digits


def unix(moment: datetime) -> int:
    return int(moment.timestamp())


def dt(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _exp(currency: str) -> int:
    return 0 if currency in ZERO else 3 if currency in THREE else 2


class StripeLedger:
    """A Stripe account's state and event log (thread-safe)."""

    def __init__(self, seed: int = 0, account: str = "acct_sandbox") -> None:
        self.rng = random.Random(seed)
        self.account = account
        self.lock = threading.RLock()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            r: {} for r in ("charges", "refunds", "disputes", "payouts", "balance_transactions")}
        self.events: list[dict[str, Any]] = []
        self.payout_items: dict[str, list[str]] = {}  # payout id -> its balance transactions
        self.paid_out: set[str] = set()

    # ids and events -------------------------------------------------------------------
    def _id(self, prefix: str) -> str:
        return f"{prefix}_" + "".join(self.rng.choice(ALPHABET) for _ in range(24))

    def _event(self, kind: str, obj: dict[str, Any], at: int,
               previous: dict[str, Any] | None = None) -> None:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous:
            data["previous_attributes"] = previous
        self.events.append({"id": self._id("evt"), "object": "event", "type": kind,
                            "created": at, "api_version": "2026-10-28", "livemode": False,
                            "pending_webhooks": 0, "data": data,
                            "request": {"id": None, "idempotency_key": None}})

    def _txn(self, source: dict[str, Any], amount: int, fee: int, currency: str, at: int,
             kind: str, category: str, rate: float | None = None,
             available_days: int = 2) -> dict[str, Any]:
        txn = {"id": self._id("txn"), "object": "balance_transaction", "amount": amount,
               "fee": fee, "net": amount - fee, "currency": currency, "created": at,
               "available_on": unix(datetime.combine(dt(at).date(), datetime.min.time(),
                                                     UTC) + timedelta(days=available_days)),
               "status": "pending", "type": kind, "reporting_category": category,
               "source": source["id"], "exchange_rate": rate, "description": None,
               "fee_details": [{"amount": fee, "currency": currency, "type": "stripe_fee",
                                "description": "Stripe processing fees"}] if fee else []}
        self.objects["balance_transactions"][txn["id"]] = txn
        return txn

    def _settle(self, amount: int, currency: str) -> tuple[int, str, float | None]:
        """A presentment amount in the account's balance: as is in a settlement currency,
        else converted into usd at the sandbox's rate."""
        if currency in SETTLEMENT:
            return amount, currency, None
        major = amount / 10 ** _exp(currency)
        return round(major * RATES[currency] * 100), "usd", RATES[currency]

    # changes ----------------------------------------------------------------------------
    def charge(self, at: int, amount: int, currency: str,
               brand: str = "visa") -> dict[str, Any]:
        """A captured card payment, its balance transaction (with Stripe's fee) and event."""
        with self.lock:
            charge: dict[str, Any] = {
                      "id": self._id("ch"), "object": "charge", "amount": amount,
                      "amount_captured": amount, "amount_refunded": 0, "captured": True,
                      "paid": True, "refunded": False, "disputed": False,
                      "status": "succeeded", "currency": currency, "created": at,
                      "livemode": False, "metadata": {}, "description": None,
                      "payment_method_details": {"type": "card", "card": {"brand": brand}}}
            settled, into, rate = self._settle(amount, currency)
            fee = round(settled * 0.029) + 30 + (round(settled * 0.015) if rate else 0)
            txn = self._txn(charge, settled, fee, into, at, "charge", "charge", rate)
            charge["balance_transaction"] = txn["id"]
            self.objects["charges"][charge["id"]] = charge
            self._event("charge.succeeded", charge, at)
            return charge

    def refund(self, charge_id: str, amount: int, at: int) -> dict[str, Any]:
        """A (partial) refund: the charge's `amount_refunded` moves, a refund and its
        negative balance transaction appear, with `charge.refunded` and `refund.created`."""
        with self.lock:
            charge = self.objects["charges"][charge_id]
            amount = min(amount, charge["amount"] - charge["amount_refunded"])
            if amount <= 0:
                raise ValueError(f"{charge_id} is fully refunded")
            refund = {"id": self._id("re"), "object": "refund", "amount": amount,
                      "charge": charge_id, "currency": charge["currency"], "created": at,
                      "status": "succeeded", "reason": "requested_by_customer",
                      "metadata": {}, "livemode": False}
            settled, into, rate = self._settle(amount, charge["currency"])
            txn = self._txn(refund, -settled, 0, into, at, "refund", "refund", rate)
            refund["balance_transaction"] = txn["id"]
            self.objects["refunds"][refund["id"]] = refund
            previous = {"amount_refunded": charge["amount_refunded"],
                        "refunded": charge["refunded"]}
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] == charge["amount"]
            self._event("refund.created", refund, at)
            self._event("charge.refunded", charge, at, previous)
            return refund

    def dispute(self, charge_id: str, at: int) -> dict[str, Any]:
        """A chargeback: the disputed amount and a 15.00 fee leave the balance."""
        with self.lock:
            charge = self.objects["charges"][charge_id]
            dispute = {"id": self._id("dp"), "object": "dispute", "amount": charge["amount"],
                       "currency": charge["currency"], "charge": charge_id, "created": at,
                       "status": "needs_response", "reason": "fraudulent", "metadata": {},
                       "livemode": False, "balance_transactions": []}
            settled, into, rate = self._settle(charge["amount"], charge["currency"])
            fee = 1500  # the dispute fee, in the settlement currency
            txn = self._txn(dispute, -settled, fee, into, at, "adjustment", "dispute", rate)
            dispute["balance_transactions"] = [copy.deepcopy(txn)]
            self.objects["disputes"][dispute["id"]] = dispute
            charge["disputed"] = True
            self._event("charge.dispute.created", dispute, at)
            return dispute

    def close_dispute(self, dispute_id: str, won: bool, at: int) -> dict[str, Any]:
        """Won: the amount and the fee come back (`dispute_reversal`); lost: nothing moves."""
        with self.lock:
            dispute = self.objects["disputes"][dispute_id]
            previous = {"status": dispute["status"]}
            dispute["status"] = "won" if won else "lost"
            if won:
                first = dispute["balance_transactions"][0]
                txn = self._txn(dispute, -first["amount"], -first["fee"], first["currency"],
                                at, "adjustment", "dispute_reversal", first["exchange_rate"])
                dispute["balance_transactions"].append(copy.deepcopy(txn))
            self._event("charge.dispute.closed", dispute, at, previous)
            return dispute

    def pay_out(self, at: int, now: int) -> list[dict[str, Any]]:
        """Automatic payouts at `at`: per settlement currency, every balance transaction
        available by then and not yet paid out; `paid` once arrived by `now`."""
        made = []
        with self.lock:
            for currency in SETTLEMENT:
                due = [t for t in self.objects["balance_transactions"].values()
                       if t["currency"] == currency and t["type"] != "payout"
                       and t["available_on"] <= at and t["id"] not in self.paid_out]
                total = sum(t["net"] for t in due)
                if not due or total <= 0:
                    continue
                payout = {"id": self._id("po"), "object": "payout", "amount": total,
                          "currency": currency, "created": at, "arrival_date": at + 86400,
                          "automatic": True, "status": "in_transit", "method": "standard",
                          "livemode": False, "metadata": {}, "description": "STRIPE PAYOUT"}
                own = self._txn(payout, -total, 0, currency, at, "payout", "payout",
                                available_days=0)
                payout["balance_transaction"] = own["id"]
                self.objects["payouts"][payout["id"]] = payout
                self.payout_items[payout["id"]] = [t["id"] for t in due] + [own["id"]]
                for t in (*due, own):
                    t["status"] = "available"
                    self.paid_out.add(t["id"])
                self._event("payout.created", payout, at)
                if payout["arrival_date"] <= now:
                    payout["status"] = "paid"
                    self._event("payout.paid", payout, payout["arrival_date"],
                                {"status": "in_transit"})
                made.append(payout)
        return made

    # reads ------------------------------------------------------------------------------
    def listing(self, resource: str, payout: str | None = None) -> list[dict[str, Any]]:
        """Objects of a list, newest first (Stripe's order), ids breaking ties."""
        with self.lock:
            if resource == "events":
                found: Iterable[dict[str, Any]] = self.events
            elif payout is not None:
                ids = self.payout_items.get(payout, [])
                found = [self.objects["balance_transactions"][i] for i in ids]
            else:
                found = self.objects[resource].values()
            return sorted(found, key=lambda o: (o["created"], o["id"]), reverse=True)

    def get(self, resource: str, ident: str) -> dict[str, Any] | None:
        with self.lock:
            return self.objects[resource].get(ident) if resource in self.objects else None

    def to_json(self) -> str:
        """The account's state (objects, events, payout groupings) as JSON."""
        with self.lock:
            return json.dumps({"account": self.account, "objects": self.objects,
                               "events": self.events, "payout_items": self.payout_items,
                               "paid_out": sorted(self.paid_out)})

    @classmethod
    def from_json(cls, text: str, seed: int = 0) -> StripeLedger:
        """An account saved by `to_json` (new ids continue from `seed`'s generator)."""
        saved = json.loads(text)
        ledger = cls(seed, saved["account"])
        ledger.objects, ledger.events = saved["objects"], saved["events"]
        ledger.payout_items, ledger.paid_out = saved["payout_items"], set(saved["paid_out"])
        return ledger

    def day_counts(self, day: date) -> dict[str, int]:
        """Objects created on a UTC day, per list (what a test expects to find)."""
        start = unix(datetime.combine(day, datetime.min.time(), UTC))
        with self.lock:
            return {r: sum(1 for o in objs.values() if start <= o["created"] < start + 86400)
                    for r, objs in self.objects.items()}
