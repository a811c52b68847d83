"""Step one of the fix, in the UI: sample N keys of a day, both sides, row by row.

`<pair>_reconciliation_sample_job` takes its partition (a day), the sample size, an
optional class filter and seed as run config, logs the comparison table and attaches it as
markdown to the step's output, so the investigation starts from the actual values. It reads
the store only (the last extraction and read-back) and writes nothing.
"""

from collections.abc import Iterator
from datetime import date

import dagster as dg

from integrations_pipelines.defs.kit.spec import PairSpec
from integrations_pipelines.defs.partitions import daily_partitions
from integrations_pipelines.reconciliation import sample

__all__ = ["SampleConfig", "sample_job"]


class SampleConfig(dg.Config):
    """What to sample: a day (partition key, YYYY-MM-DD), how many keys, which class."""

    partition: str
    n: int = 20
    discrepancy_class: str | None = None
    seed: int | None = None


def sample_job(spec: PairSpec) -> dg.JobDefinition:
    """The pair's sample job: reads the store through the pair's reader, writes nothing."""
    entry, labels = spec.entry, spec.labels
    partitions = daily_partitions(entry)
    destination = spec.read_back.resource

    @dg.op(name=f"{entry.name}__sample_comparison", out=dg.Out(dg.Nothing),
           required_resource_keys={"store", destination})
    def compare(context: dg.OpExecutionContext, config: SampleConfig) -> Iterator[dg.Output[None]]:
        """Log and attach N keys of both sides, with the fields that differ."""
        if not partitions.has_partition_key(config.partition):
            raise dg.Failure(f"{config.partition!r} is not a partition of {entry.name} "
                             f"(YYYY-MM-DD, from {entry.partitions_start.isoformat()} to "
                             "yesterday)", allow_retries=False)
        try:
            sample.check_class(config.discrepancy_class)
        except ValueError as exc:
            raise dg.Failure(str(exc), allow_retries=False) from exc
        with context.resources.store.engine().connect() as conn:
            report = spec.sample(conn, entry, date.fromisoformat(config.partition),
                                 getattr(context.resources, destination))
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
    @dg.job(name=f"{entry.name}_reconciliation_sample_job",
            description=f"Sample N {labels.destination_record}s of a day from both sides and "
            "show them row by row with the fields that differ and the likely cause (config: "
            "partition, n, discrepancy_class, seed).")
    def job() -> None:
        compare()

    return job
