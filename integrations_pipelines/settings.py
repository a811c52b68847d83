"""Configuration from the environment (12-factor), read when used and never at import.

Endpoints, credentials and database URLs live in the environment so that the same code
talks to the vendor sandboxes in the demo and tests and to the real vendors in production.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date

__all__ = [
    "PARTITIONS_START_VARIABLE", "MissingSetting", "QuickBooksSettings", "ShopifySettings",
    "WebhookSecrets", "dagster_storage_url", "database_url", "partitions_start_override",
    "shopify_api_version_pin", "sqlalchemy_url", "warehouse_url", "webhook_secrets",
]


class MissingSetting(RuntimeError):
    """A required environment variable is not set; the message names it and its purpose."""


def _require(name: str, purpose: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise MissingSetting(f"{name} is not set: {purpose}")
    return value


def sqlalchemy_url(url: str) -> str:
    """Name the psycopg 3 driver explicitly, whatever form of PostgreSQL URL was given."""
    for prefix in ("postgresql+psycopg2://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def dagster_storage_url(url: str) -> str:
    """Dagster's storage (dagster-postgres) speaks psycopg2: name that driver explicitly,
    because SQLAlchemy 2.1 maps a bare `postgresql://` to psycopg 3."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def database_url() -> str:
    """The integration store's PostgreSQL URL (raw tables, ledger, dead letters, tokens)."""
    return sqlalchemy_url(
        _require("DATABASE_URL", "the PostgreSQL URL of the integration store")
    )


PARTITIONS_START_VARIABLE = "INTEGRATIONS_PARTITIONS_START"


def partitions_start_override() -> date | None:
    """INTEGRATIONS_PARTITIONS_START (YYYY-MM-DD), if set: no integration's daily partitions
    start before that day. `dev` sets it to the first day its sandbox shop has orders, so
    the UI counts only the days that could have been synced; production leaves it unset
    and keeps each catalog entry's `partitions_start`."""
    value = os.environ.get(PARTITIONS_START_VARIABLE, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{PARTITIONS_START_VARIABLE} is {value!r}, not a day (YYYY-MM-DD): "
                         "the first day to partition") from None


def warehouse_url() -> str:
    """The analytics warehouse's PostgreSQL URL: WAREHOUSE_URL, else the integration
    store's database (the warehouse pairs then write a schema of their own in it)."""
    url = os.environ.get("WAREHOUSE_URL")
    return sqlalchemy_url(url) if url else database_url()


@dataclass(frozen=True)
class ShopifySettings:
    """How to reach one Shopify shop's Admin REST API."""

    base_url: str
    access_token: str
    # An emergency pin over the catalog's `shopify.api_version` (SHOPIFY_API_VERSION).
    api_version: str | None = None

    @classmethod
    def from_env(cls) -> ShopifySettings:
        return cls(
            base_url=_require("SHOPIFY_BASE_URL", "e.g. https://your-shop.myshopify.com"),
            access_token=_require("SHOPIFY_ACCESS_TOKEN", "the Admin API access token"),
            api_version=shopify_api_version_pin(),
        )


def shopify_api_version_pin() -> str | None:
    """SHOPIFY_API_VERSION: an emergency pin over the catalog's API version, if set."""
    return os.environ.get("SHOPIFY_API_VERSION") or None


@dataclass(frozen=True)
class QuickBooksSettings:
    """How to reach one QuickBooks Online company (realm) and its OAuth2 token endpoint."""

    base_url: str
    token_url: str
    client_id: str
    client_secret: str
    realm_id: str
    bootstrap_refresh_token: str | None = None
    minor_version: str = "75"

    @classmethod
    def from_env(cls) -> QuickBooksSettings:
        return cls(
            base_url=os.environ.get("QBO_BASE_URL", "https://quickbooks.api.intuit.com"),
            token_url=os.environ.get(
                "QBO_TOKEN_URL", "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"
            ),
            client_id=_require("QBO_CLIENT_ID", "the Intuit app's client id"),
            client_secret=_require("QBO_CLIENT_SECRET", "the Intuit app's client secret"),
            realm_id=_require("QBO_REALM_ID", "the QuickBooks company (realm) id"),
            bootstrap_refresh_token=os.environ.get("QBO_REFRESH_TOKEN") or None,
            minor_version=os.environ.get("QBO_MINOR_VERSION", "75"),
        )


@dataclass(frozen=True)
class WebhookSecrets:
    """The secrets a delivery may be signed with, newest first (two during a rotation)."""

    shopify: tuple[str, ...] = ()
    quickbooks: tuple[str, ...] = ()


def _secrets(name: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(name, "").split(",") if part.strip())


def webhook_secrets() -> WebhookSecrets:
    """The secrets webhook deliveries may be signed with, read on every delivery so a
    rotation needs no restart: `SHOPIFY_WEBHOOK_SECRETS` (the app's client secret) and
    `QBO_WEBHOOK_VERIFIER_TOKENS`, each a comma-separated list, newest first; during a
    rotation both the new and the old value are listed."""
    return WebhookSecrets(shopify=_secrets("SHOPIFY_WEBHOOK_SECRETS"),
                          quickbooks=_secrets("QBO_WEBHOOK_VERIFIER_TOKENS"))
