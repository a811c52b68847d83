"""The promise every sync step keeps: no record of the window is silently lost.

Each source record of the window is in the ledger at its current version (written, or
settled as skipped by the catalog's policy) or has an open dead letter with a reason; the
rest are `pending`, and any pending record fails the blocking check at ERROR: the run fails
once the read-back's checks have reported (`defs/kit/verdict.py`). The queries are
`state/accounted.py`'s.
"""

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines.defs.partitions import Window
from integrations_pipelines.state import accounted
from integrations_pipelines.state.raw import RecordKind
from integrations_pipelines.sync.engine import SKIPPED

__all__ = ["EXAMPLES", "accounted_result"]

EXAMPLES = 10


def accounted_result(conn: sa.Connection, kind: RecordKind, integration: str, window: Window,
                     check: dg.AssetCheckSpec, records: str) -> dg.AssetCheckResult:
    """The check `check` over the window's source records of `kind` (called `records`)."""
    found = accounted.settled_in_window(conn, kind, integration, window.first_day,
                                        window.end_day, skipped_status=SKIPPED)
    pending = found.pending
    return dg.AssetCheckResult(
        check_name=check.name, asset_key=check.asset_key, passed=not pending,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={records: found.records, "synced": found.settled - found.skipped,
                  "skipped_by_policy": found.skipped, "dead_lettered": found.dead_lettered,
                  "pending": len(pending),
                  "pending_examples": dg.MetadataValue.json(pending[:EXAMPLES])},
    )
