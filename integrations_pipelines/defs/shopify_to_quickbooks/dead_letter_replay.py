"""`dead_letter_replay_job`: replay dead letters from the Dagster UI, after a fix.

The same replay as `integrations-pipelines dead-letters replay` (see `sync/replay.py`):
open letters of an integration, optionally only of some days and one reason code, go
through the current mapping and the idempotent invoice write path. Launch it from the
Launchpad with run config, e.g.

    ops:
      replay_dead_letters:
        config: {reason_code: quickbooks_6000, from_date: "2026-11-01", to_date: "2026-11-03"}

The run fails (without retries) when letters remain open afterwards, naming their reasons,
so a replay that did not fix everything is never a green run.
"""


from collections.abc import Iterator
from typing import Any

import dagster as dg

from integrations_pipelines.defs.failures import vendor_failures
from integrations_pipelines.defs.resources import IntegrationStore, QuickBooksResource
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import flagship
from integrations_pipelines.sync.replay import LetterFilter, replay_dead_letters
from integrations_pipelines.sync.shopify_to_quickbooks import InvoiceSync
from integrations_pipelines.vendors.metrics import HttpMetrics
from integrations_pipelines.vendors.shopify.models import Order

__all__ = ["ReplayConfig", "dead_letter_replay_job", "replay_dead_letters_op"]


class ReplayConfig(dg.Config):
    """Which open dead letters to replay (dates are business days, both ends included)."""

    integration: str = "shopify_to_quickbooks"
    reason_code: str | None = None
    from_date: str | None = None
    to_date: str | None = None
    fail_if_any_remain: bool = True

    def letter_filter(self) -> LetterFilter:
        return LetterFilter.from_days(self.integration, self.reason_code, self.from_date,
                                      self.to_date)


@dg.op(name="replay_dead_letters", out=dg.Out(dg.Nothing), pool="quickbooks",
       description="Replays the selected open dead letters through the current mapping and "
       "the idempotent invoice write path; resolved letters are closed.")
def replay_dead_letters_op(context: dg.OpExecutionContext, config: ReplayConfig,
                           store: IntegrationStore, quickbooks: QuickBooksResource,
                           ) -> Iterator[dg.Output[None]]:
    which = config.letter_filter()
    engine = store.engine()
    client = quickbooks.client(HttpMetrics(), store, context.run_id)
    with vendor_failures(f"replaying dead letters of {config.integration}"), client.http:
        sync = InvoiceSync(engine, client, flagship(config.integration))
        outcome = replay_dead_letters(engine, sync, Order, which)
    context.log.info(outcome.summary())
    metadata: dict[str, Any] = {
        "letters_selected": outcome.selected,
        "letters_resolved": outcome.resolved,
        "letters_still_failing": outcome.still_failing,
        "invoices_created": outcome.sync.created,
        "invoices_updated": outcome.sync.updated,
        "invoices_voided": outcome.sync.voided,
        "still_failing_reasons": dg.MetadataValue.json(dict(outcome.still_failing_reasons)),
    }
    if outcome.still_failing and config.fail_if_any_remain:
        raise dg.Failure(description=f"dead letters remain open after the replay: "
                         f"{outcome.summary()}", metadata=metadata, allow_retries=False)
    yield dg.Output(None, metadata=metadata)


@dg.job(name="dead_letter_replay_job",
        tags={"kind": "replay", "integration": "shopify_to_quickbooks"},
        description="Replay open dead letters (optionally some days and one reason code) "
        "through the current mapping, idempotently; fails if any remain open.")
def dead_letter_replay_job() -> None:
    replay_dead_letters_op()
