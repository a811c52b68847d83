"""Step one of the fix: N records of a window, both sides, row by row.

For the data engineer who got the alert: pick N keys of the window (all classes, or one
class), and show for each the source record's expected values next to what the destination
holds, which fields differ, the versions (the source record's current version; on the
destination record the ledger wrote, the version it wrote) and the likely cause. Works on any
pair's `WindowReconciliation`; the pair's module loads the window (e.g.
`reconciliation.shopify_to_quickbooks.render_sample`, behind `integrations-pipelines reconcile
sample` and the Dagster sample job).
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd

from integrations_pipelines.reconciliation.frames import SideLabels
from integrations_pipelines.reconciliation.result import Outcome
from integrations_pipelines.reconciliation.window import (
    CLASSES,
    DEAD_LETTERED,
    WindowReconciliation,
)

NONE = "—"

__all__ = ["NONE", "check_class", "columns", "comparison", "summary", "to_markdown"]


def columns(field_names: tuple[str, ...]) -> list[str]:
    """The comparison's columns for a pair's compared fields."""
    return ["key", "source_id", "class", "side", "record", "version", *field_names, "differs",
            "cause"]


def check_class(discrepancy_class: str | None) -> None:
    """Refuse an unknown class filter, naming the valid ones."""
    if discrepancy_class is not None and discrepancy_class not in CLASSES:
        raise ValueError(f"unknown class {discrepancy_class!r}; one of {', '.join(CLASSES)}")


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
    chosen = sorted(((str(k), str(c)) for k, c in classes.items()),
                    key=lambda kc: (rank[kc[1]], kc[0]))
    frames = report.frames
    names = tuple(f.name for f in frames.fields)
    labels = frames.labels
    source = pd.concat([frames.source, frames.accounted]).drop_duplicates("key").set_index("key")
    ledger = frames.ledger.set_index("key")
    differing = report.result.differing_fields()
    rows: list[dict[str, Any]] = []
    for key, cls in chosen:
        cause = str(report.causes.get(key, ""))
        if cls == DEAD_LETTERED:
            cause = f"dead-lettered: {source.at[key, 'reason_code']!s}"
        first = {"key": key, "class": cls, "differs": _differs(cls, differing.get(key), labels),
                 "cause": cause}
        # Both indexes are unique (one row per key), so `.loc[key]` is one row.
        src = cast("pd.Series | None", source.loc[key] if key in source.index else None)
        first["source_id"] = src["source_id"] if src is not None else NONE
        rows.append(first | _side(names, labels.source, labels.source_record, src))
        records = frames.destination[frames.destination["key"] == key]
        written = cast("pd.Series | None", ledger.loc[key] if key in ledger.index else None)
        for _, record in records.iterrows():
            # The version the sync wrote, on the record the ledger says it wrote.
            version = None
            if written is not None and written["destination_id"] == record["destination_id"]:
                version = written["source_version"]
            rows.append(_side(names, labels.destination,
                              f"{labels.destination_record} {record['destination_id']}", record)
                        | {"version": _cell(version)})
        if records.empty:
            rows.append(_side(names, labels.destination, f"no {labels.destination_record}", None))
    frame = pd.DataFrame(rows, columns=columns(names))
    return frame.fillna("")


def _side(names: tuple[str, ...], side: str, record: str,
          values: pd.Series | None) -> dict[str, Any]:
    row: dict[str, Any] = {"side": side, "record": record}
    if values is None:
        return row | dict.fromkeys(names, NONE) | {"version": NONE}
    row["version"] = _cell(values.get("version"))
    return row | {name: _cell(values.get(name)) for name in names}


def _differs(cls: str, fields: tuple[str, ...] | None, labels: SideLabels) -> str:
    if cls in (Outcome.STALE, Outcome.WRONG_VALUES):
        return ", ".join(fields or ())
    absent = f"no {labels.destination_record}"
    return {Outcome.MISSING: absent, Outcome.EXTRA: f"no {labels.source_record}",
            Outcome.DUPLICATE: f"several {labels.destination_record}s",
            DEAD_LETTERED: absent}.get(cls, "")


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
