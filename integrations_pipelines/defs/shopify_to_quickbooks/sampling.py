"""Step one of the fix, in the UI: sample N keys of a day, both sides, row by row.

`shopify_to_quickbooks_reconciliation_sample_job` takes its partition (a day), the sample
size, an optional class filter and seed as run config, logs the comparison table and attaches
it as markdown to the step's output, so the investigation starts from the actual values. It
reads the store only (the last extraction and read-back) and writes nothing.
"""


from collections.abc import Iterator
from datetime import date

import dagster as dg

from integrations_pipelines.defs.resources import IntegrationStore, QuickBooksResource
from integrations_pipelines.defs.shopify_to_quickbooks.assets import CATALOG, NAME, PARTITIONS
from integrations_pipelines.reconciliation import sample
from integrations_pipelines.reconciliation import shopify_to_quickbooks as pair_reconciliation

__all__ = [
    "SampleConfig", "sample_invoice_comparison", "shopify_to_quickbooks_reconciliation_sample_job",
]


class SampleConfig(dg.Config):
    """What to sample: a day (partition key, YYYY-MM-DD), how many keys, which class."""

    partition: str
    n: int = 20
    discrepancy_class: str | None = None
    seed: int | None = None


@dg.op(out=dg.Out(dg.Nothing))
def sample_invoice_comparison(context: dg.OpExecutionContext, config: SampleConfig,
                              store: IntegrationStore, quickbooks: QuickBooksResource,
                              ) -> Iterator[dg.Output[None]]:
    """Log and attach N keys' expected invoice next to QuickBooks' records."""
    if not PARTITIONS.has_partition_key(config.partition):
        raise dg.Failure(f"{config.partition!r} is not a partition of {NAME} (YYYY-MM-DD, "
                         f"from {CATALOG.partitions_start.isoformat()} to yesterday)",
                         allow_retries=False)
    try:
        sample.check_class(config.discrepancy_class)
    except ValueError as exc:
        raise dg.Failure(str(exc), allow_retries=False) from exc
    realm_id = quickbooks.connection_settings().realm_id
    with store.engine().connect() as conn:
        report = pair_reconciliation.reconcile_day(
            conn, CATALOG, date.fromisoformat(config.partition), realm_id)
    table = sample.to_markdown(sample.comparison(report, config.n, config.discrepancy_class,
                                                 config.seed))
    headline = sample.summary(report)
    context.log.info(f"{headline}\n{table}")
    yield dg.Output(None, metadata={
        "comparison": dg.MetadataValue.md(f"{headline}\n\n{table}"),
        "partition": config.partition,
        "sampled_class": config.discrepancy_class or "all",
        **{c: n for c, n in report.counts.items()},
    })


# No `integration` run tag: the job only reads, so it need not queue behind a backfill.
@dg.job(name=f"{NAME}_reconciliation_sample_job",
        description="Sample N invoices of a day from both sides and show them row by row "
        "with the fields that differ and the likely cause (config: partition, n, "
        "discrepancy_class, seed).")
def shopify_to_quickbooks_reconciliation_sample_job() -> None:
    sample_invoice_comparison()
