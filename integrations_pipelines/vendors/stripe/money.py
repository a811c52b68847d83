"""Stripe money: integer amounts in the currency's smallest unit, decimals only at the edge.

Stripe states every amount as an integer count of the currency's minor unit (`1999` is
19.99 USD, `1999` is 1,999 JPY, `1999` is 1.999 BHD). Sums, comparisons and storage stay in
those integers; the currency's exponent is applied only where a person or a report reads a
decimal (`to_major`), and `to_minor` refuses an amount finer than the currency allows
instead of rounding money away. The exponent lists are Stripe's own (docs: "zero-decimal"
and "three-decimal" currencies); every other currency Stripe supports has two decimals.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["THREE_DECIMAL", "ZERO_DECIMAL", "exponent", "to_major", "to_minor"]

ZERO_DECIMAL = frozenset({
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd",
    "vuv", "xaf", "xof", "xpf",
})
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})


def exponent(currency: str) -> int:
    """Decimals of the currency's major unit as Stripe counts them (JPY 0, USD 2, BHD 3)."""
    code = currency.lower()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"not an ISO 4217 currency code: {currency!r}")
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_major(amount: int, currency: str) -> Decimal:
    """An integer minor-unit amount as a decimal of the major unit, exactly."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"Stripe amounts are integers, got {type(amount).__name__}")
    return Decimal(amount).scaleb(-exponent(currency))


def to_minor(value: Decimal | str, currency: str) -> int:
    """A major-unit decimal as Stripe's integer amount; an amount finer than the currency's
    minor unit (0.5 JPY, 1.2345 BHD) is refused, never rounded."""
    scaled = Decimal(value).scaleb(exponent(currency))
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{value} {currency.upper()} has more decimals than the currency "
                         f"allows ({exponent(currency)})")
    return int(scaled)
