"""Dagster resources: the integration store and the vendor connections.

Configuration comes from the environment when a resource is used (never at import), so
the same Definitions run against the sandboxes in the demo and tests and against the real
vendors in production. `definitions.py` gives the required fields as `dg.EnvVar`s, which
Dagster resolves at execution and shows in the UI by name, never by value; optional
fields (endpoints with a production default, version pins) fall back to the environment
through `settings`. Fields set explicitly (tests) override both.
"""


from collections.abc import Callable
from dataclasses import replace
from typing import Any

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines import settings
from integrations_pipelines.alerts.redaction import Redactor
from integrations_pipelines.state import http_failures
from integrations_pipelines.state.db import engine_for
from integrations_pipelines.vendors.contracts import ContractGuard
from integrations_pipelines.vendors.http import FailureRecord
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient, connect, realm_budget
from integrations_pipelines.vendors.shopify.client import (
    DEFAULT_API_VERSION,
    ShopifyClient,
    make_http_client,
    shop_budget,
)
from integrations_pipelines.vendors.xero.client import XeroClient
from integrations_pipelines.vendors.xero.client import connect as connect_xero
from integrations_pipelines.vendors.xero.settings import XeroSettings

__all__ = ["IntegrationStore", "QuickBooksResource", "RetryBudget", "ShopifyResource",
           "WarehouseResource", "XeroResource"]

# `dg.ConfigurableResource` is generic in the value it vends; a resource that vends itself has
# no spelling for that parameter (dagster#32027), hence `type: ignore[type-arg]` on those.


class IntegrationStore(dg.ConfigurableResource):  # type: ignore[type-arg]  # vends itself
    """The PostgreSQL integration store (raw tables, ledger, dead letters, tokens)."""

    database_url: str | None = None

    def engine(self) -> sa.Engine:
        return engine_for(settings.sqlalchemy_url(self.database_url or settings.database_url()))

    def failure_sink(self, run_id: str | None) -> Callable[[FailureRecord], None]:
        """Keeps each failed vendor call (no headers, no secrets) for diagnosis."""
        engine = self.engine()

        def sink(failure: FailureRecord) -> None:
            http_failures.record(engine, vendor=failure.vendor, endpoint=failure.endpoint,
                                 status=failure.status, error=failure.error,
                                 retried=failure.retried, run_id=run_id)

        return sink

    def contracts(self, run_id: str | None, *secrets: str | None) -> ContractGuard:
        """Validates vendor answers, recording violations and drift for this run (payloads
        redacted: the environment's secrets and `secrets` never reach the table)."""
        redactor = Redactor.from_environment()
        redactor.register(*secrets)
        return ContractGuard(self.engine(), run_id=run_id, redactor=redactor)


class RetryBudget(dg.ConfigurableResource):  # type: ignore[type-arg]  # vends itself
    """How long the HTTP client keeps retrying transient failures before the step fails
    (unset: the client's defaults)."""

    retry_max_attempts: int | None = None
    retry_max_elapsed_s: float | None = None

    def retry_options(self) -> dict[str, Any]:
        options = {"max_attempts": self.retry_max_attempts,
                   "max_elapsed_s": self.retry_max_elapsed_s}
        return {k: v for k, v in options.items() if v is not None}


class ShopifyResource(RetryBudget):
    """One Shopify shop (SHOPIFY_BASE_URL, SHOPIFY_ACCESS_TOKEN; SHOPIFY_API_VERSION pins
    the API version over the catalog's).

    `bucket_size` and `leak_per_second` are the shop plan's REST limit (standard: 40 and
    2/s; Advanced 4/s; Plus 400 and 20/s): every process calling the shop shares them.
    """

    bucket_size: int = 40
    leak_per_second: float = 2.0

    base_url: str | None = None
    access_token: str | None = None
    api_version: str | None = None

    def client(self, metrics: HttpMetrics, store: IntegrationStore, run_id: str | None,
               api_version: str = DEFAULT_API_VERSION) -> ShopifyClient:
        """A client for the shop; `api_version` is the catalog's, unless pinned here or by
        SHOPIFY_API_VERSION."""
        conf = settings.ShopifySettings.from_env() if not (self.base_url and self.access_token) \
            else settings.ShopifySettings(self.base_url, self.access_token,
                                          settings.shopify_api_version_pin())
        conf = replace(conf, api_version=self.api_version or conf.api_version or api_version)
        budget = shop_budget(store.engine(), conf.base_url, self.bucket_size,
                             self.leak_per_second)
        http = make_http_client(conf.base_url, conf.access_token, metrics=metrics,
                                leak_per_second=self.leak_per_second, budget=budget,
                                failure_sink=store.failure_sink(run_id), **self.retry_options())
        return ShopifyClient(http, conf.api_version or api_version,
                             contracts=store.contracts(run_id, conf.access_token))


class QuickBooksResource(RetryBudget):
    """One QuickBooks Online company (QBO_* variables); tokens live in the store.

    `requests_per_second` and `requests_per_minute` are Intuit's per-realm throttle (10/s,
    500/min): every process calling the realm shares them.
    """

    requests_per_second: int = 10
    requests_per_minute: int = 500

    base_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    realm_id: str | None = None
    bootstrap_refresh_token: str | None = None

    def connection_settings(self) -> settings.QuickBooksSettings:
        explicit = {k: v for k, v in {
            "base_url": self.base_url, "token_url": self.token_url,
            "client_id": self.client_id, "client_secret": self.client_secret,
            "realm_id": self.realm_id, "bootstrap_refresh_token": self.bootstrap_refresh_token,
        }.items() if v is not None}
        if {"client_id", "client_secret", "realm_id", "base_url", "token_url"} <= set(explicit):
            return settings.QuickBooksSettings(**explicit)
        return replace(settings.QuickBooksSettings.from_env(), **explicit)

    def client(self, metrics: HttpMetrics, store: IntegrationStore,
               run_id: str | None) -> QuickBooksClient:
        conf = self.connection_settings()
        return connect(conf, store.engine(), metrics=metrics,
                       failure_sink=store.failure_sink(run_id),
                       contracts=store.contracts(run_id),
                       budget=realm_budget(store.engine(), conf.realm_id,
                                           self.requests_per_second, self.requests_per_minute),
                       **self.retry_options())


class WarehouseResource(dg.ConfigurableResource):  # type: ignore[type-arg]  # vends itself
    """The analytics warehouse (PostgreSQL): WAREHOUSE_URL, else the integration store's
    database, where the warehouse pairs keep a schema of their own."""

    url: str | None = None

    def engine(self) -> sa.Engine:
        return engine_for(settings.sqlalchemy_url(self.url or settings.warehouse_url()))


class XeroResource(RetryBudget):
    """One Xero organisation (XERO_* variables); tokens live in the store.

    `per_minute` and `app_per_minute` are Xero's minute limits (60 per tenant, 10,000 per
    app): every process calling the tenant shares them (the day's 5000 are read from
    `X-DayLimit-Remaining`).
    """

    per_minute: int = 60
    app_per_minute: int = 10_000

    base_url: str | None = None
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    tenant_id: str | None = None
    bootstrap_refresh_token: str | None = None

    def connection_settings(self) -> XeroSettings:
        explicit = {k: v for k, v in {
            "base_url": self.base_url, "token_url": self.token_url,
            "client_id": self.client_id, "client_secret": self.client_secret,
            "tenant_id": self.tenant_id, "bootstrap_refresh_token": self.bootstrap_refresh_token,
        }.items() if v is not None}
        if {"client_id", "client_secret", "tenant_id", "base_url", "token_url"} <= set(explicit):
            return XeroSettings(**explicit)
        return replace(XeroSettings.from_env(), **explicit)

    def client(self, metrics: HttpMetrics, store: IntegrationStore,
               run_id: str | None) -> XeroClient:
        conf = self.connection_settings()
        return connect_xero(conf, store.engine(), metrics=metrics,
                            failure_sink=store.failure_sink(run_id),
                            contracts=store.contracts(run_id), per_minute=self.per_minute,
                            app_per_minute=self.app_per_minute,
                            **self.retry_options())
