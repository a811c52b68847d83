"""The token rule: warn before the refresh token expires; critical when it is dead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations_pipelines.alerts.kinds import AlertKind, Severity
from integrations_pipelines.alerts.tokens import token_alert
from integrations_pipelines.vendors.oauth import TokenHealth

NOW = datetime(2026, 11, 2, 7, 0, tzinfo=UTC)


def health(**changes: object) -> TokenHealth:
    values: dict[str, object] = dict(
        connection="quickbooks:4620816365", access_expires_at=NOW + timedelta(minutes=50),
        refresh_expires_at=NOW + timedelta(days=100), last_refreshed_at=NOW,
        consecutive_failures=0, last_error=None, revoked=False,
    )
    values.update(changes)
    return TokenHealth(**values)  # type: ignore[arg-type]


def test_healthy_and_unknown_connections_raise_nothing() -> None:
    assert token_alert(health(), NOW) is None
    assert token_alert(health(refresh_expires_at=None), NOW) is None
    assert token_alert(None, NOW) is None


def test_warning_fourteen_days_before_expiry() -> None:
    assert token_alert(health(refresh_expires_at=NOW + timedelta(days=15)), NOW) is None
    alert = token_alert(health(refresh_expires_at=NOW + timedelta(days=14)), NOW)
    assert alert is not None
    assert (alert.kind, alert.severity) == (AlertKind.TOKEN_EXPIRING, Severity.WARNING)
    assert alert.reason == (
        "the refresh token of 'quickbooks:4620816365' expires in 14 days (2026-11-16 UTC)"
    )
    custom = token_alert(health(refresh_expires_at=NOW + timedelta(days=20)), NOW,
                         warn_before=timedelta(days=30))
    assert custom is not None and custom.kind is AlertKind.TOKEN_EXPIRING


def test_revoked_expired_or_failing_is_critical() -> None:
    revoked = token_alert(health(revoked=True, last_error="HTTP 400: invalid_grant"), NOW)
    assert revoked is not None
    assert (revoked.kind, revoked.severity) == (AlertKind.TOKEN_REVOKED, Severity.CRITICAL)
    assert revoked.reason == ("the refresh token of 'quickbooks:4620816365' was rejected "
                              "(last error: HTTP 400: invalid_grant)")
    expired = token_alert(health(refresh_expires_at=NOW - timedelta(hours=1)), NOW)
    assert expired is not None and expired.severity is Severity.CRITICAL
    assert token_alert(health(consecutive_failures=2), NOW) is None
    failing = token_alert(health(consecutive_failures=3, last_error="HTTP 503"), NOW)
    assert failing is not None and failing.kind is AlertKind.TOKEN_REVOKED
    assert failing.reason == ("refreshing 'quickbooks:4620816365' failed 3 times in a row "
                              "(last error: HTTP 503)")
