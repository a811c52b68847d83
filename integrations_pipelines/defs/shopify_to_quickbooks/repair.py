"""Repair of the flagship integration, as a job over the same write path.

`shopify_to_quickbooks_repair_job` (a partition or a range, launched from the UI; built
by the kit, `defs/kit/jobs.py`) materializes `quickbooks/invoices` with `repair: true`:
before the read-back, the asset repairs the window through
`sync.shopify_to_quickbooks.repair_window` (re-syncs exactly the missing, stale and wrong
invoices, voids duplicates only under `duplicate_policy: void_duplicates`, reports
extras), then reads the window back and re-runs its checks, so the run itself proves the
repair. No asset stands for the repair: it holds no data of its own.
"""

from typing import Any

import dagster as dg

from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.sync.shopify_to_quickbooks import VOID_DUPLICATES, RepairOutcome

__all__ = ["repair_metadata", "repair_summary"]

KEYS_SHOWN = 100


def repair_metadata(done: RepairOutcome) -> dict[str, Any]:
    """What the repair found and did, for the read-back's materialization (every name
    starts with `repair_`, beside the read-back's own figures)."""
    found, outcome, voided = done.report.counts, done.sync, done.voided
    duplicates = done.report.keys(Outcome.DUPLICATE)
    figures = {
        **{f"found_{c}": n for c, n in found.items()},
        "orders_resynced": done.resynced,
        "invoices_created": outcome.created,
        "invoices_updated": outcome.updated,
        "invoices_voided": outcome.voided,
        "invoices_unchanged": outcome.unchanged,
        "orders_dead_lettered": outcome.dead_lettered,
        "duplicates_voided": len(voided),
        "duplicates_reported": 0 if done.policy == VOID_DUPLICATES else len(duplicates),
        "extra_reported": found[Outcome.EXTRA],
        "duplicate_policy": done.policy,
        "resynced_keys": dg.MetadataValue.json(done.report.keys(*done.classes)[:KEYS_SHOWN]),
        "voided_invoice_ids": dg.MetadataValue.json(voided[:KEYS_SHOWN]),
        "extra_keys": dg.MetadataValue.json(done.report.keys(Outcome.EXTRA)[:KEYS_SHOWN]),
    }
    return {f"repair_{name}": value for name, value in figures.items()}


def repair_summary(label: str, done: RepairOutcome) -> str:
    """The repair in one log line."""
    outcome = done.sync
    return (f"repair {label}: found {done.report.counts}; re-synced {done.resynced} orders "
            f"({outcome.created} created, {outcome.updated} updated, {outcome.voided} voided, "
            f"{outcome.dead_lettered} dead-lettered); {len(done.voided)} duplicates voided "
            f"(policy {done.policy})")
