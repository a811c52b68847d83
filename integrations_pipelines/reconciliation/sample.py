"""Step one of the fix: N records of a window, both sides, row by row.

For the data engineer who got the alert: pick N keys of the window (all classes, or one
class), and show for each the order's expected invoice values next to what QuickBooks holds,
which fields differ, the versions (the order's current `updated_at`; on the invoice the ledger
wrote, the version it wrote) and the likely cause. Reads only the store (the last extraction
and read-back); used by `integrations-pipelines reconcile sample` and by the Dagster sample
job.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from integrations_pipelines.catalog import Integration, load_catalog
from integrations_pipelines.reconciliation.frames import FIELD_NAMES, load_window
from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.reconciliation.window import (
    CLASSES,
    DEAD_LETTERED,
    WindowReconciliation,
    reconcile_window,
)
from integrations_pipelines.state.db import engine_for

COLUMNS = ["key", "order_id", "class", "side", "record", "version", *FIELD_NAMES, "differs",
           "cause"]
NONE = "—"


def check_class(discrepancy_class: str | None) -> None:
    """Refuse an unknown class filter, naming the valid ones."""
    if discrepancy_class is not None and discrepancy_class not in CLASSES:
        raise ValueError(f"unknown class {discrepancy_class!r}; one of {', '.join(CLASSES)}")


def reconcile_day(conn: sa.Connection, integration: Integration, day: date,
                  realm_id: str | None) -> WindowReconciliation:
    """The reconciliation of one business day from the store's last extraction and read-back."""
    return reconcile_window(load_window(conn, integration, day, day + timedelta(days=1),
                                        realm_id))


def comparison(report: WindowReconciliation, n: int = 20,
               discrepancy_class: str | None = None, seed: int | None = None) -> pd.DataFrame:
    """Up to `n` keys (a random sample when there are more; `seed` repeats it), ordered by
    class then key, as one row for the order and one per QuickBooks record of the key."""
    check_class(discrepancy_class)
    classes = report.key_classes()
    if discrepancy_class is not None:
        classes = classes[classes == discrepancy_class]
    if len(classes) > n:
        classes = classes.sample(n=max(0, n), random_state=seed)
    rank = {c: i for i, c in enumerate(CLASSES)}
    chosen = sorted(classes.items(), key=lambda kc: (rank[kc[1]], str(kc[0])))
    frames = report.frames
    source = pd.concat([frames.source, frames.accounted]).drop_duplicates("key").set_index("key")
    ledger = frames.ledger.set_index("key")
    differing = report.result.differing_fields()
    rows: list[dict[str, Any]] = []
    for key, cls in chosen:
        cause = str(report.causes.get(key, ""))
        if cls == DEAD_LETTERED:
            cause = f"dead-lettered: {source.at[key, 'reason_code']}"
        first = {"key": key, "class": cls, "differs": _differs(cls, differing.get(key)),
                 "cause": cause}
        src = source.loc[key] if key in source.index else None
        first["order_id"] = src["order_id"] if src is not None else NONE
        rows.append(first | _side("shopify", "order", src))
        records = frames.destination[frames.destination["key"] == key]
        written = ledger.loc[key] if key in ledger.index else None
        for _, record in records.iterrows():
            # The version the sync wrote, on the record the ledger says it wrote.
            ours = written is not None and written["destination_id"] == record["destination_id"]
            version = written["source_version"] if ours else None
            rows.append(_side("quickbooks", f"invoice {record['destination_id']}", record)
                        | {"version": _cell(version)})
        if records.empty:
            rows.append(_side("quickbooks", "no invoice", None))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.fillna("")


def _side(side: str, record: str, values: pd.Series | None) -> dict[str, Any]:
    row: dict[str, Any] = {"side": side, "record": record}
    if values is None:
        return row | dict.fromkeys(FIELD_NAMES, NONE) | {"version": NONE}
    row["version"] = _cell(values.get("version"))
    return row | {name: _cell(values.get(name)) for name in FIELD_NAMES}


def _differs(cls: str, fields: tuple[str, ...] | None) -> str:
    if cls in (Outcome.STALE, Outcome.WRONG_VALUES):
        return ", ".join(fields or ())
    return {Outcome.MISSING: "no invoice", Outcome.EXTRA: "no order",
            Outcome.DUPLICATE: "several invoices", DEAD_LETTERED: "no invoice"}.get(cls, "")


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, str | bool | np.bool_) and bool(pd.isna(value))):
        return NONE
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, pd.Timestamp):
        return value.isoformat(timespec="seconds")
    return str(value)


def to_markdown(frame: pd.DataFrame) -> str:
    """The comparison as a markdown table (readable as plain text too)."""
    header = "| " + " | ".join(frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in row)
            + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body])


def summary(report: WindowReconciliation) -> str:
    """One line: the window, its counts per class and the drift rate."""
    frames = report.frames
    counts = ", ".join(f"{c} {v}" for c, v in report.counts.items())
    return (f"window {frames.start.isoformat()}..{frames.end.isoformat()}: {counts}; "
            f"drift rate {report.drift_rate:.2%}")


def render_sample(database_url: str, integration_name: str, day: date, n: int = 20,
                  discrepancy_class: str | None = None, seed: int | None = None,
                  realm_id: str | None = None) -> str:
    """The command-line report: summary line, then the comparison table.

    Raises ValueError (with the reason) for an unknown integration or class.
    """
    catalog = load_catalog()
    if integration_name not in catalog:
        raise ValueError(f"unknown integration {integration_name!r}; the catalog has "
                         f"{', '.join(sorted(catalog))}")
    integration = catalog[integration_name]
    if (integration.source, integration.destination) != ("shopify", "quickbooks"):
        raise ValueError(f"{integration_name}: sampling compares Shopify orders with "
                         "QuickBooks invoices only")
    check_class(discrepancy_class)
    with engine_for(database_url).connect() as conn:
        report = reconcile_day(conn, integration, day, realm_id)
    table = comparison(report, n, discrepancy_class, seed)
    return f"{summary(report)}\n\n{to_markdown(table)}"
