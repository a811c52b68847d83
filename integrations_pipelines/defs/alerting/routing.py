"""Who an alert belongs to, and where it happened: integration, partition and incident subject.

Every incident names an integration (its Slack channel comes from the catalog) and a subject
that narrows it down (the job or asset, the partition, the check, the connection, the
schedule). Runs carry the `integration` tag of their job; assets and OAuth connections are
mapped through the catalog's source and destination systems.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg

from integrations_pipelines.catalog import load_catalog

__all__ = [
    "INTEGRATION_TAG", "PARTITION_TAG", "RANGE_END_TAG", "RANGE_SEPARATOR", "RANGE_START_TAG",
    "asset_tags", "covers", "integration_for_asset", "integration_for_run",
    "integrations_for_connection", "integrations_for_system", "job_subject", "parse_subject",
    "partition_label",
]

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
INTEGRATION_TAG = "integration"
RANGE_SEPARATOR = ".."


def integrations_for_system(system: str) -> list[str]:
    """The catalog integrations that read from or write to `system` (e.g. `quickbooks`)."""
    return [name for name, entry in load_catalog().items()
            if system in (name, entry.source, entry.destination)]


def integration_for_asset(asset_key: Sequence[str],
                          tags: Mapping[str, str] | None = None) -> str:
    """The integration an asset belongs to: its `integration` tag (the factory sets it on
    every asset a pair builds, so two pairs sharing a system route apart); else its key's
    first part when that names an integration or a system of exactly one; otherwise that
    first part itself (all integrations of a shared system then hear of it through it)."""
    if tags and tags.get(INTEGRATION_TAG):
        return tags[INTEGRATION_TAG]
    first = asset_key[0] if asset_key else "dagster"
    found = integrations_for_system(first)
    return found[0] if len(found) == 1 else first


def asset_tags(repository: dg.RepositoryDefinition, key: dg.AssetKey) -> Mapping[str, str]:
    """The tags an asset was defined with (empty for a key the code no longer defines)."""
    graph = repository.asset_graph
    return graph.get(key).tags if graph.has(key) else {}


def integration_for_run(tags: Mapping[str, str], job_name: str) -> str:
    """The integration of a run: its job's `integration` tag, else the job's name."""
    return tags.get(INTEGRATION_TAG) or job_name


def integrations_for_connection(connection: str) -> list[str]:
    """The integrations that use an OAuth connection named `<system>:<account>`."""
    system = connection.split(":", 1)[0]
    return integrations_for_system(system) or [system]


def partition_label(tags: Mapping[str, str]) -> str | None:
    """The partition a run covered: its key, `start..end` for a range, or None."""
    if tags.get(PARTITION_TAG):
        return tags[PARTITION_TAG]
    start, end = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if start and end:
        return start if start == end else f"{start}{RANGE_SEPARATOR}{end}"
    return None


def covers(label: str | None, partition: str | None) -> bool:
    """Does a run over `label` (a key or `start..end`) cover `partition`? Keys compare as
    strings, which orders the ISO dates of daily partitions correctly."""
    if label is None or partition is None:
        return label == partition
    if label == partition:
        return True
    if RANGE_SEPARATOR not in label or RANGE_SEPARATOR in partition:
        return False
    start, end = label.split(RANGE_SEPARATOR, 1)
    return start <= partition <= end


def job_subject(job_name: str, partition: str | None) -> str:
    """The subject of a run failure incident: one per job and partition."""
    return f"job={job_name}" + (f" partition={partition}" if partition else "")


def parse_subject(subject: str) -> dict[str, str]:
    """The parts of a subject made by `job_subject` or `alerts.incidents.incident_subject`."""
    parts = (part.split("=", 1) for part in subject.split(" ") if "=" in part)
    return {name: value for name, value in parts}
