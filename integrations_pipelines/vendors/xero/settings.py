"""How to reach one Xero organisation (tenant) and Xero's OAuth2 token endpoint, from the
environment (XERO_*), read when used."""

from __future__ import annotations

import os
from dataclasses import dataclass

from integrations_pipelines.settings import MissingSetting

__all__ = ["XeroSettings"]


def _require(name: str, purpose: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"{name} is not set: {purpose}")
    return value


@dataclass(frozen=True)
class XeroSettings:
    """One Xero tenant: the API base, the token endpoint, the app and the tenant id."""

    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    tenant_id: str
    bootstrap_refresh_token: str | None = None

    @classmethod
    def from_env(cls) -> XeroSettings:
        return cls(
            base_url=os.environ.get("XERO_BASE_URL", "https://api.xero.com"),
            token_url=os.environ.get("XERO_TOKEN_URL", "https://identity.xero.com/connect/token"),
            client_id=_require("XERO_CLIENT_ID", "the Xero app's client id"),
            client_secret=_require("XERO_CLIENT_SECRET", "the Xero app's client secret"),
            tenant_id=_require("XERO_TENANT_ID", "the Xero organisation (xero-tenant-id)"),
            bootstrap_refresh_token=os.environ.get("XERO_REFRESH_TOKEN") or None,
        )
