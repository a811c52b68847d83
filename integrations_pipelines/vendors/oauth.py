"""OAuth2 token manager: proactive refresh, rotated refresh tokens persisted atomically.

Access tokens are refreshed before they expire (not after a 401). Vendors such as
QuickBooks and Xero rotate the refresh token on every use, so the newest one is written in
the same transaction that holds a row lock on the connection: two processes refreshing at
once (the nightly run and a backfill) take turns, and the second one reuses the first one's
fresh token instead of burning the already-rotated refresh token. A rejected refresh token
(`invalid_grant`) is a permanent, loud failure naming the connection and what to do.

The token endpoint is called through the same resilient `VendorHttpClient` as every other
vendor call; the refresh grant itself is a single form POST (RFC 6749, section 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.state.tables import oauth_tokens
from integrations_pipelines.vendors.errors import (
    CredentialsRevokedError,
    PermanentVendorError,
    VendorError,
)
from integrations_pipelines.vendors.http import VendorHttpClient

__all__ = ["OAuthApp", "TokenHealth", "TokenManager", "reauthorize_hint", "stored_healths"]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class OAuthApp:
    """One OAuth2 connection: which app, which token endpoint, which stored credentials.

    `refresh_idle_lifetime`: how long an unused refresh token lives when the grant does not
    say (Xero: 60 days, never stated in the answer), so token health can warn before it
    dies; None when the vendor states it (QuickBooks' `x_refresh_token_expires_in`)."""

    connection: str
    token_url: str
    client_id: str
    client_secret: str
    refresh_idle_lifetime: timedelta | None = None


@dataclass(frozen=True)
class TokenHealth:
    """What a person needs to know about a connection's credentials."""

    connection: str
    access_expires_at: datetime | None
    refresh_expires_at: datetime | None
    last_refreshed_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    revoked: bool


def reauthorize_hint(connection: str) -> str:
    return (
        f"Re-authorize the app for connection '{connection}' (the vendor's OAuth consent "
        f"flow) and store the new refresh token with `integrations-pipelines tokens set "
        f"{connection}`; then replay the failed partitions."
    )


class TokenManager:
    """Hands out a valid access token for one connection, refreshing when due."""

    def __init__(self, engine: sa.Engine, app: OAuthApp, *, http: VendorHttpClient,
                 bootstrap_refresh_token: str | None = None,
                 refresh_margin: timedelta = timedelta(minutes=5)) -> None:
        self.engine = engine
        self.app = app
        self.http = http
        self.refresh_margin = refresh_margin
        self.bootstrap_refresh_token = bootstrap_refresh_token
        self.refreshes = 0

    def store_refresh_token(self, refresh_token: str) -> None:
        """Save a newly authorized refresh token (after consent), clearing old state."""
        now = _now()
        values = {
            "refresh_token": refresh_token, "access_token": None, "access_expires_at": None,
            "refresh_expires_at": None, "consecutive_failures": 0, "last_error": None,
            "revoked": False, "updated_at": now,
        }
        stmt = pg_insert(oauth_tokens).values(
            connection=self.app.connection, **values
        ).on_conflict_do_update(index_elements=["connection"], set_=values)
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def _row(self, conn: sa.Connection, *, lock: bool) -> Any:
        query = sa.select(oauth_tokens).where(oauth_tokens.c.connection == self.app.connection)
        if lock:
            query = query.with_for_update()
        return conn.execute(query).first()

    def _fresh(self, row: Any) -> bool:
        return (
            row is not None and row.access_token is not None
            and row.access_expires_at is not None
            and row.access_expires_at - self.refresh_margin > _now()
        )

    def access_token(self) -> str:
        """A token valid for at least the refresh margin; refreshes (under lock) if not."""
        with self.engine.connect() as conn:
            row = self._row(conn, lock=False)
        if self._fresh(row):
            token: str = row.access_token  # a Core row: its columns are untyped
            return token
        return self._refresh(rejected_token=None)

    def force_refresh(self, rejected_token: str | None = None) -> str:
        """After a 401: refresh unless another process already replaced the rejected token."""
        return self._refresh(rejected_token=rejected_token, force=True)

    def _refresh(self, rejected_token: str | None, force: bool = False) -> str:
        """Refresh under the row lock, unless another process just did; record a failure
        (revoked on `invalid_grant`) and raise it."""
        self._store_bootstrap()
        failure: VendorError | None = None
        with self.engine.begin() as conn:
            row = self._row(conn, lock=True)
            if row is None:
                raise CredentialsRevokedError(
                    f"no credentials stored for '{self.app.connection}'. "
                    + reauthorize_hint(self.app.connection),
                    vendor=self.app.connection, endpoint="oauth.refresh",
                )
            if row.revoked:
                raise CredentialsRevokedError(
                    f"the refresh token of '{self.app.connection}' was rejected earlier "
                    f"({row.last_error}). " + reauthorize_hint(self.app.connection),
                    vendor=self.app.connection, endpoint="oauth.refresh",
                )
            someone_else_refreshed = force and row.access_token not in (None, rejected_token)
            if self._fresh(row) and (not force or someone_else_refreshed):
                current: str = row.access_token  # a Core row: its columns are untyped
                return current
            try:
                token = self._grant(row.refresh_token)
            except VendorError as exc:  # refused, or still failing after the retries
                failure = exc
            else:
                self._store_grant(conn, row, token)
                self.refreshes += 1
                fresh: str = token["access_token"]
                return fresh
        revoked = self._record_failure(failure)
        if revoked:
            raise CredentialsRevokedError(
                f"the refresh token of '{self.app.connection}' was rejected (invalid_grant): "
                "revoked, expired after inactivity, or already rotated. "
                + reauthorize_hint(self.app.connection),
                vendor=self.app.connection, endpoint="oauth.refresh", status=failure.status,
            ) from failure
        raise failure

    def _store_bootstrap(self) -> None:
        """Seed the store with the configured refresh token when it holds none yet."""
        if not self.bootstrap_refresh_token:
            return
        with self.engine.begin() as conn:
            if self._row(conn, lock=False) is None:
                conn.execute(
                    pg_insert(oauth_tokens)
                    .values(connection=self.app.connection,
                            refresh_token=self.bootstrap_refresh_token, updated_at=_now())
                    .on_conflict_do_nothing()
                )

    def _store_grant(self, conn: sa.Connection, row: Any, token: dict[str, Any]) -> None:
        """Persist a grant in the locked row's transaction (rotation: the newest refresh
        token the vendor gave always replaces the old one)."""
        now = _now()
        refresh_expires = token.get("x_refresh_token_expires_in") or token.get(
            "refresh_token_expires_in"
        )
        if not refresh_expires and self.app.refresh_idle_lifetime is not None:
            refresh_expires = self.app.refresh_idle_lifetime.total_seconds()
        conn.execute(
            oauth_tokens.update()
            .where(oauth_tokens.c.connection == self.app.connection)
            .values(
                access_token=token["access_token"],
                access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
                refresh_token=token.get("refresh_token") or row.refresh_token,
                refresh_expires_at=(now + timedelta(seconds=int(refresh_expires))
                                    if refresh_expires else row.refresh_expires_at),
                last_refreshed_at=now, consecutive_failures=0, last_error=None,
                updated_at=now,
            )
        )

    def _record_failure(self, failure: VendorError) -> bool:
        """Record a failed refresh (outside the rolled-back work) so token health shows
        failures in a row; True when it revoked the token (only a refusal of the grant
        itself, `invalid_grant`, does)."""
        revoked = isinstance(failure, PermanentVendorError) and "invalid_grant" in (
            failure.body or "")
        with self.engine.begin() as conn:
            conn.execute(
                oauth_tokens.update()
                .where(oauth_tokens.c.connection == self.app.connection)
                .values(consecutive_failures=oauth_tokens.c.consecutive_failures + 1,
                        last_error=(f"HTTP {failure.status}: {failure.body[:200]}"
                                    if failure.status else str(failure)[:300]),
                        revoked=revoked, updated_at=_now())
            )
        return revoked

    def _grant(self, refresh_token: str) -> dict[str, Any]:
        response = self.http.request(
            "POST", self.app.token_url, endpoint="oauth.refresh", authenticate=False,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            headers={"Accept": "application/json"},
            basic_auth=(self.app.client_id, self.app.client_secret),
            # Re-sent after a lost answer: if the vendor did rotate, the new refresh token
            # is lost with the answer either way and the old one is spent (or, at Xero and
            # Intuit, still inside its grace period), so asking again is never worse: it
            # either succeeds or gets `invalid_grant`, which fails loudly below.
            idempotent=True,
        )
        grant: dict[str, Any] = response.json()
        return grant

    def health(self) -> TokenHealth | None:
        """The stored state of this connection's tokens (None before the first use)."""
        with self.engine.connect() as conn:
            row = self._row(conn, lock=False)
        if row is None:
            return None
        return TokenHealth(
            connection=row.connection, access_expires_at=row.access_expires_at,
            refresh_expires_at=row.refresh_expires_at, last_refreshed_at=row.last_refreshed_at,
            consecutive_failures=row.consecutive_failures, last_error=row.last_error,
            revoked=row.revoked,
        )


def stored_healths(conn: sa.Connection, system: str | None = None) -> list[TokenHealth]:
    """What `TokenManager.health()` reports, for every stored connection (of `system`)."""
    query = sa.select(oauth_tokens).order_by(oauth_tokens.c.connection)
    if system is not None:
        query = query.where(oauth_tokens.c.connection.startswith(f"{system}:"))
    return [
        TokenHealth(connection=row.connection, access_expires_at=row.access_expires_at,
                    refresh_expires_at=row.refresh_expires_at,
                    last_refreshed_at=row.last_refreshed_at,
                    consecutive_failures=row.consecutive_failures, last_error=row.last_error,
                    revoked=row.revoked)
        for row in conn.execute(query)
    ]
