"""When a connection's credentials need a person: before they expire, and when they die.

A QuickBooks refresh token lasts about 100 days and is renewed with every refresh, so it
only nears expiry when refreshes stopped (inactivity) or the vendor set a hard end. The
rule warns `warn_before` (14 days) ahead, and is critical when the token was revoked, has
expired, or refreshing has failed `max_failures` times in a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from integrations_pipelines.alerts.kinds import AlertKind, Severity
from integrations_pipelines.vendors.oauth import TokenHealth

__all__ = ["TokenAlert", "token_alert"]


@dataclass(frozen=True)
class TokenAlert:
    """The alert a connection's token health calls for."""

    connection: str
    kind: AlertKind
    severity: Severity
    reason: str
    refresh_expires_at: datetime | None
    consecutive_failures: int


def token_alert(health: TokenHealth | None, now: datetime, *,
                warn_before: timedelta = timedelta(days=14),
                max_failures: int = 3) -> TokenAlert | None:
    """The alert for this token health at `now`, or None when the credentials are fine
    (or none are stored yet)."""
    if health is None:
        return None

    def alert(kind: AlertKind, severity: Severity, reason: str) -> TokenAlert:
        return TokenAlert(health.connection, kind, severity, reason,
                          health.refresh_expires_at, health.consecutive_failures)

    last_error = f" (last error: {health.last_error})" if health.last_error else ""
    if health.revoked:
        return alert(AlertKind.TOKEN_REVOKED, Severity.CRITICAL,
                     f"the refresh token of '{health.connection}' was rejected{last_error}")
    expires = health.refresh_expires_at
    if expires is not None and expires <= now:
        return alert(AlertKind.TOKEN_REVOKED, Severity.CRITICAL,
                     f"the refresh token of '{health.connection}' expired on "
                     f"{expires.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    if health.consecutive_failures >= max_failures:
        return alert(AlertKind.TOKEN_REVOKED, Severity.CRITICAL,
                     f"refreshing '{health.connection}' failed "
                     f"{health.consecutive_failures} times in a row{last_error}")
    if expires is not None and expires - now <= warn_before:
        days = (expires - now).days
        return alert(AlertKind.TOKEN_EXPIRING, Severity.WARNING,
                     f"the refresh token of '{health.connection}' expires in {days} days "
                     f"({expires.astimezone(UTC):%Y-%m-%d} UTC)")
    return None
