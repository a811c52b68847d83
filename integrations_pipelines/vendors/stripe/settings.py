"""How this project reaches one Stripe account: base URL, API key, pinned API version.

Read from the environment when used (STRIPE_BASE_URL, default Stripe's own;
STRIPE_API_KEY; STRIPE_API_VERSION pins the version over the catalog's). Stripe has no
OAuth for an account's own data: a secret key (`sk_live_...`, `sk_test_...`) or, better, a
restricted key with read access to the objects we list (`rk_live_...`, `rk_test_...`).
A publishable key cannot read and is refused. The key's mode sets the account's read limit
(live 100 requests/s, test 25/s).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["DEFAULT_BASE_URL", "KEY_PREFIXES", "StripeSettings", "key_mode",
           "webhook_secrets"]

DEFAULT_BASE_URL = "https://api.stripe.com"
KEY_PREFIXES = ("sk_live_", "sk_test_", "rk_live_", "rk_test_")


def key_mode(api_key: str) -> str:
    """`live` or `test`, from a secret or restricted key; anything else is refused."""
    if not api_key.startswith(KEY_PREFIXES):
        raise ValueError("a Stripe secret key (sk_live_/sk_test_) or restricted key "
                         "(rk_live_/rk_test_) is needed; publishable keys cannot read")
    return "live" if "_live_" in api_key[:8] else "test"


@dataclass(frozen=True)
class StripeSettings:
    """One Stripe account's connection."""

    api_key: str
    base_url: str = DEFAULT_BASE_URL
    api_version: str | None = None

    def __post_init__(self) -> None:
        key_mode(self.api_key)

    @property
    def mode(self) -> str:
        return key_mode(self.api_key)

    @classmethod
    def from_env(cls) -> StripeSettings:
        key = os.environ.get("STRIPE_API_KEY", "").strip()
        if not key:
            raise RuntimeError("STRIPE_API_KEY is not set: the Stripe account's secret or "
                               "restricted key")
        return cls(api_key=key,
                   base_url=os.environ.get("STRIPE_BASE_URL", "").strip() or DEFAULT_BASE_URL,
                   api_version=os.environ.get("STRIPE_API_VERSION", "").strip() or None)


def webhook_secrets() -> tuple[str, ...]:
    """STRIPE_WEBHOOK_SECRETS: the endpoint's signing secrets (`whsec_...`), comma-separated,
    newest first (two while Stripe rolls the secret); read per delivery."""
    return tuple(s.strip() for s in os.environ.get("STRIPE_WEBHOOK_SECRETS", "").split(",")
                 if s.strip())
