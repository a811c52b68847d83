"""The outcome of one reconciliation: every key in exactly one class, and why it is there.

Only discrepant keys are kept row by row (a small table even for millions of records); matched,
equal keys are only counted. The table keeps row positions into the compared frames, so examples
for the alert and the causes from `diagnosis` can show the actual values without copying them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from integrations_pipelines.reconciliation.fields import FieldSpec

if TYPE_CHECKING:
    from pandas._typing import ScalarOrNA

__all__ = ["DISCREPANCIES", "NO_ROW", "Outcome", "ReconciliationResult"]


class Outcome(StrEnum):
    """The class of a key. Every discrepancy is one of the first five; `ok` is not one."""

    MISSING = "missing"
    EXTRA = "extra"
    DUPLICATE = "duplicate"
    STALE = "stale"
    WRONG_VALUES = "wrong_values"
    OK = "ok"


DISCREPANCIES: tuple[Outcome, ...] = tuple(o for o in Outcome if o is not Outcome.OK)
NO_ROW = -1
_CELL_MAX = 60


@dataclass(frozen=True, eq=False)
class ReconciliationResult:
    """Classified keys of one window.

    `table` has one row per discrepant key, ordered by class (as in `DISCREPANCIES`) then key,
    with columns `key`, `class` and the positions `source_row`, `destination_row` (the first
    destination record of a duplicated key) and `ledger_row` into the compared frames, -1 where
    there is none. `field_diffs[i, j]` says whether field j differs for table row i (only
    stale and wrong_values rows have any). `duplicate_rows` are the positions of every
    destination record of a duplicated key, grouped by key in table order, then by position.
    """

    fields: tuple[FieldSpec, ...]
    source_records: int
    destination_records: int
    ok_count: int
    table: pd.DataFrame
    field_diffs: np.ndarray
    duplicate_rows: np.ndarray
    source: pd.DataFrame
    destination: pd.DataFrame
    ledger: pd.DataFrame

    @property
    def counts(self) -> dict[str, int]:
        """Keys per class, the five discrepancy classes and `ok`."""
        per_class = self.table["class"].value_counts()
        counts = {str(o): int(per_class.get(o, 0)) for o in DISCREPANCIES}
        counts[str(Outcome.OK)] = self.ok_count
        return counts

    @property
    def discrepant_count(self) -> int:
        """Keys in any discrepancy class."""
        return len(self.table)

    @property
    def drift_rate(self) -> float:
        """Discrepant keys per source record of the window (the alerting ratio)."""
        return self.discrepant_count / max(1, self.source_records)

    def keys(self, outcome: str) -> np.ndarray:
        """The keys of one discrepancy class, ascending (what a repair re-syncs)."""
        if outcome == Outcome.OK:
            raise ValueError("ok keys are counted, not kept")
        return self.table.loc[self.table["class"] == Outcome(outcome), "key"].to_numpy()

    @property
    def keys_by_class(self) -> dict[str, np.ndarray]:
        """The keys of every discrepancy class."""
        return {str(o): self.keys(o) for o in DISCREPANCIES}

    def differing_fields(self, outcome: str | None = None) -> dict[object, tuple[str, ...]]:
        """For stale and wrong_values keys (or one of the two): the names of differing fields."""
        wanted = [Outcome(outcome)] if outcome else [Outcome.STALE, Outcome.WRONG_VALUES]
        rows = np.flatnonzero(self.table["class"].isin(wanted).to_numpy())
        names = [f.name for f in self.fields]
        keys = self.table["key"].to_numpy()[rows].tolist()
        return {
            key: tuple(n for n, d in zip(names, diffs, strict=True) if d)
            for key, diffs in zip(keys, self.field_diffs[rows], strict=True)
        }

    def field_counts(self) -> dict[str, int]:
        """How many keys differ in each field (metadata to plot which field drifts)."""
        totals = self.field_diffs.sum(axis=0) if len(self.field_diffs) else [0] * len(self.fields)
        return {f.name: int(t) for f, t in zip(self.fields, totals, strict=True)}

    def examples(self, n: int = 10, causes: pd.Series | None = None) -> pd.DataFrame:
        """Up to `n` discrepancies, classes taken in turn so each class shows, as rows of
        key, class, fields, source, destination (and cause, given a Series indexed by key)."""
        table = self.table
        rank = table.groupby("class", observed=True).cumcount().to_numpy()
        code = table["class"].cat.codes.to_numpy()
        chosen = np.lexsort((code, rank))[: max(0, n)]
        names = [f.name for f in self.fields]
        rows = []
        for i in chosen:
            record = table.iloc[i]
            outcome = Outcome(record["class"])
            by_value = outcome in (Outcome.STALE, Outcome.WRONG_VALUES)
            shown = [
                nm for nm, d in zip(names, self.field_diffs[i], strict=True) if d or not by_value
            ]
            src = self._values(self.source, int(record["source_row"]), shown)
            dst = self._values(self.destination, int(record["destination_row"]), shown)
            if outcome is Outcome.DUPLICATE:
                dst = self._duplicate_ids(record["key"])
            fields = ", ".join(shown) if by_value else ""
            rows.append(
                {"key": record["key"], "class": str(outcome), "fields": fields}
                | {"source": src, "destination": dst}
            )
        frame = pd.DataFrame(rows, columns=["key", "class", "fields", "source", "destination"])
        if causes is not None:
            frame["cause"] = [str(causes.get(k, "")) for k in frame["key"]]
        return frame

    def examples_markdown(self, n: int = 10, causes: pd.Series | None = None) -> str:
        """The examples as a markdown table for the alert, the run log or an issue."""
        frame = self.examples(n, causes)
        header = "| " + " | ".join(frame.columns) + " |"
        rule = "|" + "|".join("---" for _ in frame.columns) + "|"
        body = [
            "| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)
        ]
        return "\n".join([header, rule, *body])

    def _values(self, frame: pd.DataFrame, row: int, names: list[str]) -> str:
        if row == NO_ROW:
            return "—"
        return "; ".join(f"{nm}={_show(frame[nm].iat[row])}" for nm in names if nm in frame)

    def _duplicate_ids(self, key: object) -> str:
        rows = self.duplicate_rows
        dest = self.destination
        same = rows[dest["key"].to_numpy()[rows] == key]
        ids = [str(v) for v in dest["destination_id"].to_numpy()[same]]
        return f"{len(ids)} records: ids {', '.join(ids)}"


def _show(value: object) -> str:
    # a cell from `.iat`: a scalar or a missing marker (pd.isna's scalar overload)
    if value is None or (not isinstance(value, str)
                         and bool(pd.isna(cast("ScalarOrNA", value)))):
        return "null"
    if isinstance(value, pd.Timestamp) and value.tz is None and value == value.normalize():
        value = value.date()
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _CELL_MAX else text[: _CELL_MAX - 1] + "…"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
