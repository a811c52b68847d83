"""QuickBooks Online OAuth2 tokens: short-lived access tokens, rotating refresh tokens.

Real integrations break when they keep using a refresh token that has rotated, forget to
persist the newest one, or keep calling with an expired access token. This authority
issues and checks tokens the way Intuit's token endpoint does.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["TokenAuthority"]


class TokenAuthority:
    """Issues, rotates, checks and revokes the tokens of one app (client id/secret)."""

    def __init__(self, client_id: str, client_secret: str, refresh_token: str, *,
                 access_lifetime: int = 3600, refresh_lifetime: int = 8726400,
                 rotation_grace_seconds: float = 0.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self.rotation_grace_seconds = rotation_grace_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, float] = {}
        # refresh token -> [expires_at, invalid_after (None while it is the newest)]
        self._refresh: dict[str, list[float | None]] = {}
        self.current_refresh_token = refresh_token
        self._refresh[refresh_token] = [clock() + refresh_lifetime, None]
        self.refreshes = 0

    def _client_ok(self, authorization: str | None) -> bool:
        if not authorization or not authorization.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:].strip()).decode()
        except ValueError:
            return False
        return decoded == f"{self.client_id}:{self.client_secret}"

    def refresh(self, authorization: str | None,
                form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer `POST /oauth2/v1/tokens/bearer`: (status, JSON body)."""
        if not self._client_ok(authorization):
            return 401, {"error": "invalid_client"}
        if form.get("grant_type") != "refresh_token":
            return 400, {"error": "unsupported_grant_type"}
        token = form.get("refresh_token")
        if not token:
            return 400, {"error": "invalid_request"}
        with self._lock:
            now = self._clock()
            entry = self._refresh.get(token)
            # entry[0] (expires_at) is always set; only entry[1] is None while newest.
            if (entry is None or entry[0] is None or now >= entry[0]
                    or (entry[1] is not None and now >= entry[1])):
                return 400, {"error": "invalid_grant"}
            for other in self._refresh.values():
                if other[1] is None:
                    other[1] = now + self.rotation_grace_seconds
            self.refreshes += 1
            return 200, self._issue(now)

    def _issue(self, now: float) -> dict[str, Any]:
        access = "eyJ" + secrets.token_urlsafe(48)
        refresh = "AB" + secrets.token_urlsafe(36)
        self._access[access] = now + self.access_lifetime
        self._refresh[refresh] = [now + self.refresh_lifetime, None]
        self.current_refresh_token = refresh
        return {"token_type": "bearer", "access_token": access, "expires_in": self.access_lifetime,
                "refresh_token": refresh, "x_refresh_token_expires_in": self.refresh_lifetime}

    def issue(self) -> dict[str, Any]:
        """Mint a token pair directly (as the OAuth consent flow would), rotating."""
        with self._lock:
            now = self._clock()
            for other in self._refresh.values():
                if other[1] is None:
                    other[1] = now + self.rotation_grace_seconds
            return self._issue(now)

    def access_ok(self, authorization: str | None) -> bool:
        """Is this `Authorization: Bearer ...` header a live access token?"""
        if not authorization or not authorization.lower().startswith("bearer "):
            return False
        with self._lock:
            expiry = self._access.get(authorization[7:].strip())
            return expiry is not None and self._clock() < expiry

    def revoke_all(self) -> None:
        """The user disconnected the app: every token dies."""
        with self._lock:
            self._access.clear()
            self._refresh.clear()

    def expire_access(self) -> None:
        """Every access token expires now (the refresh token still works)."""
        with self._lock:
            now = self._clock()
            self._access = {k: min(v, now) for k, v in self._access.items()}

    def expire_refresh(self) -> None:
        """Every refresh token expires now (the user must reconnect)."""
        with self._lock:
            now = self._clock()
            for entry in self._refresh.values():
                entry[0] = min(float(entry[0] or now), now)

    def snapshot(self) -> dict[str, Any]:
        """Token state for persistence and the admin view."""
        with self._lock:
            return {"current_refresh_token": self.current_refresh_token,
                    "access": dict(self._access),
                    "refresh": {k: list(v) for k, v in self._refresh.items()},
                    "refreshes": self.refreshes}

    def restore(self, data: dict[str, Any]) -> None:
        """Load a `snapshot`."""
        with self._lock:
            self.current_refresh_token = data["current_refresh_token"]
            self._access = {k: float(v) for k, v in data["access"].items()}
            self._refresh = {k: list(v) for k, v in data["refresh"].items()}
            self.refreshes = int(data.get("refreshes", 0))
