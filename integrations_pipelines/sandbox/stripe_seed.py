"""The Stripe sandbox as `dev` runs it: a seeded account kept across restarts.

`start_seeded(state, days, ...)` starts the Stripe sandbox on loopback holding the account
saved in `state/stripe.json`, or a freshly generated one over the last `days` days (with
Black Friday at ten times the volume when it falls in them), and returns the server, its
store and the variables the Stripe pair reads (STRIPE_BASE_URL, STRIPE_API_KEY). The caller
saves it on exit (`save`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from integrations_pipelines.sandbox.server import SandboxServer
from integrations_pipelines.sandbox.stripe_account import generate_account
from integrations_pipelines.sandbox.stripe_app import StripeStore, start_stripe
from integrations_pipelines.sandbox.stripe_ledger import StripeLedger

__all__ = ["API_KEY", "BLACK_FRIDAY", "save", "start_seeded"]

API_KEY = "sk_test_dev_sandbox"
BLACK_FRIDAY = date(2026, 11, 27)


def start_seeded(state: Path, days: int, seed: int = 2026, charges_per_day: int = 120,
                 ) -> tuple[SandboxServer, StripeStore, dict[str, str]]:
    """Start the sandbox from its saved account, or a newly seeded one."""
    saved = state / "stripe.json"
    if saved.exists():
        ledger = StripeLedger.from_json(saved.read_text(), seed)
    else:
        start = datetime.now(UTC).date() - timedelta(days=days)
        peak = BLACK_FRIDAY if start <= BLACK_FRIDAY < start + timedelta(days=days) else None
        ledger = generate_account(seed, start, days, charges_per_day, black_friday=peak)
    server, store = start_stripe(ledger, api_key=API_KEY)
    return server, store, {"STRIPE_BASE_URL": server.url, "STRIPE_API_KEY": API_KEY}


def save(store: StripeStore, state: Path) -> None:
    """Keep the account for the next start."""
    (state / "stripe.json").write_text(store.ledger.to_json())
