"""One window's reconciliation of a pair's source records against its destination records,
with causes: what the check reports, what the repair acts on and what the sample prints.

`reconcile_window` runs the engine on `frames.WindowFrames` and the diagnosis on its evidence,
then sharpens one cause the generic rules cannot see: a destination record whose external key
was changed by hand (a renumbered invoice) shows up as its source record missing plus an extra
record; when the ledger's destination id is that extra record, both are named "renumbered in
the destination". No vendor import.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from integrations_pipelines.reconciliation.chunked import reconcile_chunks
from integrations_pipelines.reconciliation.diagnosis import cause_counts, diagnose, keys_among
from integrations_pipelines.reconciliation.engine import reconcile
from integrations_pipelines.reconciliation.frames import WindowChunks, WindowFrames
from integrations_pipelines.reconciliation.result import (
    DISCREPANCIES,
    Outcome,
    ReconciliationResult,
)

DEAD_LETTERED = "dead_lettered"
CLASSES: tuple[str, ...] = (*(str(c) for c in DISCREPANCIES), str(Outcome.OK), DEAD_LETTERED)
RENUMBERED = "renumbered_in_destination"

__all__ = ["CLASSES", "DEAD_LETTERED", "RENUMBERED", "WindowReconciliation", "reconcile_window"]


@dataclass(frozen=True, eq=False)
class WindowReconciliation:
    """The classified keys of a window, their causes, and the accounted-for dead letters.

    A window compared in key-hash chunks (`chunks` > 1) keeps only the rows of its
    discrepancies in `frames.source`, `.destination` and `.ledger`; its counts
    (`frames.source_count`, `destination_count`) are the whole window's.
    """

    frames: WindowFrames
    result: ReconciliationResult
    diagnosis: pd.DataFrame
    chunks: int = 1

    @property
    def destination_count(self) -> int:
        """The destination records of the window that were compared."""
        return self.result.destination_records

    @property
    def counts(self) -> dict[str, int]:
        """Keys per class: the five discrepancies, `ok`, and `dead_lettered` (accounted)."""
        return self.result.counts | {DEAD_LETTERED: len(self.frames.accounted)}

    @property
    def discrepant_count(self) -> int:
        return self.result.discrepant_count

    @property
    def drift_rate(self) -> float:
        """Discrepant keys per source record of the window (accounted-for ones included)."""
        return self.discrepant_count / max(1, self.frames.source_count)

    @cached_property
    def causes(self) -> pd.Series:
        """The likely cause of each discrepant key."""
        return pd.Series(self.diagnosis["cause"].to_numpy(), index=self.diagnosis["key"])

    def cause_counts(self) -> pd.DataFrame:
        """Keys per class and cause code, largest first."""
        return cause_counts(self.diagnosis)

    def examples_markdown(self, n: int = 10) -> str:
        """Up to `n` discrepancies (each class in turn) with values and cause, as markdown."""
        return self.result.examples_markdown(n, self.causes)

    def keys(self, *classes: str) -> list[str]:
        """The keys (DocNumbers) of the given discrepancy classes, ascending."""
        return sorted(str(k) for c in classes for k in self.result.keys(c))

    def source_ids(self, *classes: str) -> list[str]:
        """The source records' ids behind the keys of the given classes (keys with a source)."""
        source = self.frames.source
        return sorted(source.loc[source["key"].isin(self.keys(*classes)),
                                 "source_id"].astype(str))

    def duplicate_records(self) -> pd.DataFrame:
        """Every record of a duplicated key: key, destination_id, sync_token, voided, keep.

        The record kept is the ledger's invoice, else the oldest (lowest Id), which is also the
        one the sync would pick; the others are what `void_duplicates` voids.
        """
        dest = self.frames.destination
        records = dest.loc[dest["key"].isin(self.keys(Outcome.DUPLICATE)),
                           ["key", "destination_id", "sync_token", "voided"]].copy()
        ledger_id = records["key"].map(
            self.frames.ledger.set_index("key")["destination_id"]).astype(object)
        records["is_ledger"] = (records["destination_id"] == ledger_id).to_numpy(dtype=bool)
        numeric = pd.to_numeric(records["destination_id"], errors="coerce")
        oldest = numeric == numeric.groupby(records["key"]).transform("min")
        has_ledger = records.groupby("key")["is_ledger"].transform("any")
        keep = pd.Series(np.where(has_ledger, records["is_ledger"], oldest), index=records.index)
        first = ~records["key"].duplicated()  # ids that are not numbers: keep the first
        records["keep"] = keep | (first & ~keep.groupby(records["key"]).transform("any"))
        return records.drop(columns="is_ledger").sort_values(
            ["key", "destination_id"]).reset_index(drop=True)

    def key_classes(self) -> pd.Series:
        """The class of every key of the window, `ok` and `dead_lettered` included (of a
        window compared in chunks: its discrepant and accounted-for keys, as ok keys are
        counted, not kept)."""
        keys = pd.Index(pd.concat([
            self.frames.source["key"], self.frames.destination["key"],
            self.frames.accounted["key"]]).unique())
        classes = pd.Series(str(Outcome.OK), index=keys, dtype=object)
        classes[self.frames.accounted["key"]] = DEAD_LETTERED
        table = self.result.table
        classes[table["key"]] = table["class"].astype(str).to_numpy()
        return classes


def reconcile_window(frames: WindowFrames | WindowChunks,
                     money_tolerance: int = 0) -> WindowReconciliation:
    """Classify every key of the window and attach the likely cause of each discrepancy.

    A window given as `WindowChunks` is read and compared chunk by chunk (`chunked`), and
    diagnosed once on the chunks' discrepancies: the same classes, causes and examples as
    the whole window compared at once (a missing key's record renumbered into another chunk
    and kept by none is looked up by the ledger's id, `destination_by_id`; without that
    reader it is named only when its new key is itself discrepant).
    """
    if not isinstance(frames, WindowChunks):
        result = reconcile(frames.source, frames.destination, frames.ledger, frames.fields,
                           money_tolerance=money_tolerance)
        diagnosis = _renumbered(diagnose(result, frames.evidence), frames.ledger,
                                frames.destination)
        return WindowReconciliation(frames=frames, result=result, diagnosis=diagnosis)
    window = frames
    frames, result = reconcile_chunks(window, money_tolerance)
    diagnosis = diagnose(result, frames.evidence)
    destination = frames.destination[["destination_id", "key"]]
    elsewhere = _moved_ids(diagnosis, frames)
    if elsewhere and window.destination_by_id is not None:  # kept in no chunk's discrepancies
        found = window.destination_by_id(elsewhere)[["destination_id", "key"]]
        destination = pd.concat([destination, found], ignore_index=True)
    return WindowReconciliation(frames=frames, result=result,
                                diagnosis=_renumbered(diagnosis, frames.ledger, destination),
                                chunks=window.chunks)


def _moved_ids(diagnosis: pd.DataFrame, frames: WindowFrames) -> list[str]:
    """The ledger's destination ids of missing keys that no kept destination record has:
    records the sync wrote that may now sit under a key of another chunk."""
    missing = diagnosis.loc[diagnosis["class"] == Outcome.MISSING, "key"]
    ids = frames.ledger.loc[keys_among(frames.ledger["key"], missing), "destination_id"].dropna()
    kept = set(frames.destination["destination_id"].astype(str))
    return sorted({str(i) for i in ids} - kept)


def _renumbered(diagnosis: pd.DataFrame, ledger: pd.DataFrame,
                destination: pd.DataFrame) -> pd.DataFrame:
    """Missing keys whose ledger invoice is present under another DocNumber, and that record
    (`destination`: the destination records' `destination_id` and `key`)."""
    missing = diagnosis.loc[diagnosis["class"] == Outcome.MISSING, ["key"]]
    moved = (
        missing.merge(ledger[["key", "destination_id"]], on="key")
        .merge(destination[["destination_id", "key"]], on="destination_id",
               suffixes=("", "_now"))
    )
    if not len(moved):
        return diagnosis
    # whichever order the records came in (a chunk's kept rows, the whole window); keys of
    # mixed types that do not order stay as they came
    with contextlib.suppress(TypeError):
        moved = moved.sort_values(["key", "key_now"], kind="stable")
    out = diagnosis.copy()
    was = moved.drop_duplicates("key").set_index("key")  # one invoice named per key
    now = moved.drop_duplicates("key_now").set_index("key_now")
    old_rows = out["key"].isin(was.index) & (out["class"] == Outcome.MISSING)
    new_rows = out["key"].isin(now.index) & (out["class"] == Outcome.EXTRA)
    old, new = out.loc[old_rows, "key"], out.loc[new_rows, "key"]
    # as text, whatever the keys' and ids' types (integer keys, a pair's numeric ids)
    out.loc[old_rows, "cause"] = ("invoice " + old.map(was["destination_id"]).astype(str)
                                  + " now has DocNumber " + old.map(was["key_now"]).astype(str)
                                  + ": renumbered in the destination")
    out.loc[new_rows, "cause"] = ("invoice " + new.map(now["destination_id"]).astype(str)
                                  + " of " + new.map(now["key"]).astype(str)
                                  + ": renumbered in the destination")
    out.loc[old_rows | new_rows, "cause_code"] = RENUMBERED
    return out
