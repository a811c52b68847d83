"""Helpers the tests share: Definitions wired to the sandboxes and the test's database."""

from __future__ import annotations

from typing import Any

import dagster as dg

from integrations_pipelines.definitions import build_definitions
from integrations_pipelines.defs.resources import (
    IntegrationStore,
    QuickBooksResource,
    ShopifyResource,
)
from integrations_pipelines.settings import QuickBooksSettings

JOB = "shopify_to_quickbooks_job"


def sandbox_resources(database_url: str, shop_url: str, shop_token: str, qbo_url: str,
                      qbo_store: Any, retry: dict[str, dict[str, Any]] | None = None,
                      ) -> dict[str, dg.ConfigurableResource]:
    """Resources pointing at the given sandboxes, as production points at the vendors;
    `retry` sets a vendor's retry budget (`{"quickbooks": {"retry_max_attempts": 3}}`)."""
    retry = retry or {}
    return {
        "store": IntegrationStore(database_url=database_url),
        "shopify": ShopifyResource(base_url=shop_url, access_token=shop_token,
                                   **retry.get("shopify", {})),
        "quickbooks": QuickBooksResource(
            base_url=qbo_url, token_url=f"{qbo_url}/oauth2/v1/tokens/bearer",
            client_id=qbo_store.tokens.client_id, client_secret=qbo_store.tokens.client_secret,
            realm_id=qbo_store.realm_id,
            bootstrap_refresh_token=qbo_store.tokens.current_refresh_token,
            # The client keeps the realm's limits as the sandbox enforces them right now.
            requests_per_second=qbo_store.per_second,
            requests_per_minute=qbo_store.per_minute,
            **retry.get("quickbooks", {}),
        ),
    }


def run_partition(defs: dg.Definitions, instance: dg.DagsterInstance, partition: str,
                  raise_on_error: bool = True) -> dg.ExecuteInProcessResult:
    """Materialize one day of the flagship job through Dagster, as the schedule would."""
    job = defs.resolve_job_def(JOB)
    return job.execute_in_process(partition_key=partition, instance=instance,
                                  raise_on_error=raise_on_error)


def definitions_for(resources: dict[str, dg.ConfigurableResource]) -> dg.Definitions:
    return build_definitions(resources)


def live_invoice(books: Any, doc: str) -> dict[str, Any]:
    """The one invoice numbered `doc` that the QuickBooks sandbox's company has not deleted."""
    [invoice] = [i for i in books.all_invoices()
                 if i["DocNumber"] == doc and i["_sandbox_status"] != "deleted"]
    return invoice


def sandbox_quickbooks_settings(server: Any, books: Any) -> QuickBooksSettings:
    """How production would be configured to reach this QuickBooks sandbox's company."""
    return QuickBooksSettings(
        base_url=server.url, token_url=f"{server.url}/oauth2/v1/tokens/bearer",
        client_id=books.tokens.client_id, client_secret=books.tokens.client_secret,
        realm_id=books.realm_id, bootstrap_refresh_token=books.tokens.current_refresh_token)
