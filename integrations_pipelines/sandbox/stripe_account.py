"""A seeded Stripe account for the sandbox: what a real shop's Stripe ledger looks like.

`generate_account(seed, start, days, charges_per_day)` replays `days` days of business into
a `StripeLedger`: card charges in several currencies (USD and EUR settle as they are; GBP,
CAD, JPY and KRW (zero-decimal), BHD and KWD (three-decimal) are converted into USD with a
conversion fee), partial refunds the same day or days later, disputes opened days later
and closed won or lost, and an automatic payout per settlement currency every day, which
gathers the balance transactions that became available. `black_friday` names a day with
`black_friday_factor` times the volume (the seeds' 1,200-transaction day at 10x).
Deterministic for a seed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from integrations_pipelines.sandbox.stripe_ledger import StripeLedger, unix

__all__ = ["CURRENCIES", "generate_account", "midnight"]

# currency, share of charges, typical amount in minor units
CURRENCIES = (("usd", 0.55, 6_500), ("eur", 0.15, 5_900), ("gbp", 0.08, 4_800),
              ("cad", 0.05, 7_200), ("jpy", 0.07, 8_800), ("krw", 0.04, 85_000),
              ("bhd", 0.03, 24_500), ("kwd", 0.03, 19_900))
REFUND_SHARE = 0.08
DISPUTE_SHARE = 0.015


def midnight(day: date) -> int:
    return unix(datetime.combine(day, datetime.min.time(), UTC))


def generate_account(seed: int = 0, start: date = date(2026, 11, 20), days: int = 10,
                     charges_per_day: int = 120, black_friday: date | None = None,
                     black_friday_factor: int = 10) -> StripeLedger:
    """The account after `days` days from `start` (its clock: the end of the last day)."""
    ledger = StripeLedger(seed)
    rng = ledger.rng
    end = midnight(start + timedelta(days=days))
    later: list[tuple[int, str, str]] = []  # (when, what, id): changes after their day
    for n in range(days):
        day = start + timedelta(days=n)
        base = midnight(day)
        ledger.pay_out(base + 3600, end)  # the morning's automatic payouts
        count = charges_per_day * (black_friday_factor if day == black_friday else 1)
        moments = sorted(base + rng.randrange(7200, 86400) for _ in range(count))
        for at in moments:
            currency, typical = _pick(rng.random())
            amount = max(50 if typical > 1000 else 1, int(rng.lognormvariate(0, 0.6) * typical))
            charge = ledger.charge(at, amount, currency, rng.choice(("visa", "mastercard",
                                                                       "amex")))
            roll = rng.random()
            if roll < REFUND_SHARE:
                when = at + rng.choice((600, 3 * 3600, 2 * 86400, 6 * 86400))
                later.append((when, "refund", charge["id"]))
            elif roll < REFUND_SHARE + DISPUTE_SHARE:
                later.append((at + rng.randrange(1, 4) * 86400, "dispute", charge["id"]))
        _apply(ledger, [c for c in later if c[0] < base + 86400], end)
        later = [c for c in later if c[0] >= base + 86400]
    return ledger


def _pick(roll: float) -> tuple[str, int]:
    for currency, share, typical in CURRENCIES:
        if roll < share:
            return currency, typical
        roll -= share
    return CURRENCIES[0][0], CURRENCIES[0][2]


def _apply(ledger: StripeLedger, changes: list[tuple[int, str, str]], end: int) -> None:
    """The changes of one day, in time order; a dispute closes two to five days later."""
    rng = ledger.rng
    for when, what, ident in sorted(changes):
        if what == "refund":
            charge = ledger.objects["charges"][ident]
            part = rng.choice((0.25, 0.5, 1.0))
            ledger.refund(ident, max(1, int(charge["amount"] * part)), when)
        elif what == "dispute":
            dispute = ledger.dispute(ident, when)
            closes = when + rng.randrange(2, 6) * 86400
            if closes < end:
                ledger.close_dispute(dispute["id"], len(ledger.objects["disputes"]) % 2 == 0,
                                     closes)  # won and lost alike
