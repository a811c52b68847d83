"""The Stripe account as a Dagster resource, for every pair whose source is Stripe."""

import os
from dataclasses import replace
from typing import Any

import httpx

from integrations_pipelines.defs.resources import IntegrationStore, RetryBudget
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.stripe.client import Connection, connect
from integrations_pipelines.vendors.stripe.settings import DEFAULT_BASE_URL, StripeSettings

__all__ = ["StripeResource"]


class StripeResource(RetryBudget):
    """One Stripe account (STRIPE_API_KEY: a secret or restricted key; STRIPE_BASE_URL;
    STRIPE_API_VERSION pins the version over the catalog's). The key's mode sets the
    account's read budget (live 100/s, test 25/s), shared by every process calling it.
    `timeout_s` and `backoff_max_s` bound one attempt and one wait between attempts (unset:
    the client's defaults)."""

    base_url: str | None = None
    api_key: str | None = None
    api_version: str | None = None
    timeout_s: float | None = None
    backoff_max_s: float | None = None

    def connect(self, metrics: HttpMetrics, store: IntegrationStore, run_id: str | None,
                api_version: str, account: str = "default") -> Connection:
        """A client for the account, with the clocks its figures come from."""
        conf = StripeSettings.from_env() if not self.api_key else StripeSettings(
            api_key=self.api_key,  # the key as a dg.EnvVar; the URL still from the env
            base_url=self.base_url or os.environ.get("STRIPE_BASE_URL", "").strip()
            or DEFAULT_BASE_URL)
        conf = replace(conf, api_version=self.api_version or conf.api_version or api_version)
        options: dict[str, Any] = dict(self.retry_options())
        if self.timeout_s is not None:
            options["timeout"] = httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 5))
        if self.backoff_max_s is not None:
            options["backoff_max_s"] = self.backoff_max_s
        return connect(conf, store.engine(), account=account, metrics=metrics,
                       contracts=store.contracts(run_id, conf.api_key),
                       failure_sink=store.failure_sink(run_id), **options)

