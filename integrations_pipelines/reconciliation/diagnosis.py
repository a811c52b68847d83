"""Likely causes of discrepancies, from the evidence the integration store already holds.

An alert that says "312 invoices missing" sends someone digging; one that says "300 rate
limited during the sync, 12 dead-lettered: discount_exceeds_total" says what to do. The caller
fetches the evidence from Postgres (open dead letters, HTTP failures of the window, the source
records' tags) and passes it as plain frames; the rules here are vectorised per class.

Rules, per class (first match wins):
- missing: an open dead letter -> "dead-lettered: <reason_code>"; a ledger row (it was synced)
  -> "synced as <destination id> but gone from the destination: deleted by hand"; 401/403
  failures in the window -> "authentication failed during the sync"; 429s in the window ->
  "rate limited during the sync"; else "never synced: the partition did not run or the run
  failed before this record".
- extra -> "no source record: created by hand in the destination, or the source record was
  deleted".
- duplicate: the ledger's destination id among the records -> "retried create without
  idempotency (ledger id X, extra ids Y)"; else "duplicate created outside the sync".
- stale -> "an update after <ledger version> never synced", plus "(dead-lettered: <reason>)"
  when the update sits in the dead-letter table.
- wrong_values: an open dead letter -> "dead-lettered: <reason_code>" (e.g. a
  destination_conflict: the invoice under our key is someone else's); an `edge:*` tag on the
  source record -> "edge case: <tag> (<what it stresses>)"; else "values differ although the
  last sync was current: edited in the destination after the sync, or the mapping changed".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from integrations_pipelines.reconciliation.result import NO_ROW, Outcome, ReconciliationResult

__all__ = [
    "AUTH_FAILED",
    "AUTH_STATUSES",
    "CHANGED",
    "EDGE_CASES",
    "EDGE_TAG",
    "NEVER_SYNCED",
    "NO_SOURCE",
    "OUTSIDE_SYNC",
    "RATE_LIMITED",
    "RATE_LIMITED_CAUSE",
    "Evidence",
    "cause_counts",
    "diagnose",
    "keys_among",
]

EDGE_TAG = r"(edge:[A-Za-z0-9_\-]+)"
EDGE_CASES = {  # the names of mapping.shopify_to_quickbooks.edge_cases
    "edge:astral_chars": "text normalisation: emoji and 4-byte characters are removed",
    "edge:apostrophe": "an apostrophe in a name, escaped in queries",
    "edge:long_name": "truncation of an over-long customer name",
    "edge:long_title": "truncation of an over-long line description",
    "edge:multi_currency": "currency and exchange rate",
}
AUTH_STATUSES = (401, 403)
RATE_LIMITED = 429

NEVER_SYNCED = "never synced: the partition did not run or the run failed before this record"
AUTH_FAILED = "authentication failed during the sync"
RATE_LIMITED_CAUSE = "rate limited during the sync"
NO_SOURCE = "no source record: created by hand in the destination, or the source record was deleted"
OUTSIDE_SYNC = "duplicate created outside the sync"
CHANGED = (
    "values differ although the last sync was current: edited in the destination after the "
    "sync, or the mapping changed"
)


@dataclass(frozen=True)
class Evidence:
    """What the store knows about the window.

    - `dead_letters`: open dead letters, columns `key`, `reason_code`;
    - `http_failures`: failed vendor calls during the window's sync, column `status` (null for
      transport errors);
    - `tags`: source records' tags, columns `key`, `tags` (Shopify's comma-separated string;
      the first row with tags counts for a key).
    """

    dead_letters: pd.DataFrame | None = None
    http_failures: pd.DataFrame | None = None
    tags: pd.DataFrame | None = None

    def status_count(self, statuses: tuple[int, ...]) -> int:
        """Failures in the window with one of these HTTP statuses."""
        if self.http_failures is None or not len(self.http_failures):
            return 0
        return int(self.http_failures["status"].isin(statuses).sum())


def diagnose(result: ReconciliationResult, evidence: Evidence | None = None) -> pd.DataFrame:
    """One row per discrepant key (in `result.table` order): key, class, cause_code, cause."""
    evidence = evidence or Evidence()
    table = result.table
    classes = table["class"].astype(str).to_numpy()
    ledger_row = table["ledger_row"].to_numpy()
    dead = _text(_lookup(table["key"], evidence.dead_letters, "reason_code"))
    causes = _Causes(len(table))

    missing = classes == Outcome.MISSING
    duplicated = classes == Outcome.DUPLICATE
    duplicate = np.flatnonzero(duplicated)
    ledger_id = _ledger_column(result, ledger_row, "destination_id", missing | duplicated)
    causes.add(missing & dead.notna().to_numpy(), "dead_lettered", "dead-lettered: " + dead)
    gone = "synced as " + _text(ledger_id, missing).fillna("?") + _GONE
    causes.add(missing & (ledger_row != NO_ROW), "deleted_in_destination", gone)
    if evidence.status_count(AUTH_STATUSES):
        causes.add(missing, "auth_failed", AUTH_FAILED)
    if evidence.status_count((RATE_LIMITED,)):
        causes.add(missing, "rate_limited", RATE_LIMITED_CAUSE)
    causes.add(missing, "never_synced", NEVER_SYNCED)

    causes.add(classes == Outcome.EXTRA, "no_source_record", NO_SOURCE)

    retried, text = _duplicates(result, ledger_id[duplicate])
    causes.add_at(duplicate[retried], "retried_create", text[retried])
    causes.add_at(duplicate, "created_outside_sync", OUTSIDE_SYNC)

    stale = classes == Outcome.STALE
    version = _text(_ledger_column(result, ledger_row, "source_version", stale))
    update = "an update after " + version + " never synced"
    with_dead = update + " (dead-lettered: " + dead + ")"
    causes.add(stale & dead.notna().to_numpy(), "update_not_synced", with_dead)
    causes.add(stale, "update_not_synced", update)

    wrong = np.flatnonzero(classes == Outcome.WRONG_VALUES)
    lettered = wrong[dead.notna().to_numpy()[wrong]]
    causes.add_at(lettered, "dead_lettered", ("dead-lettered: " + dead).to_numpy(
        dtype=object)[lettered])
    tag = _text(_edge_tags(_lookup(table["key"].iloc[wrong], evidence.tags, "tags")))
    what = tag.map(EDGE_CASES).astype(object)  # object like `tag` (pandas may infer str)
    edge = ("edge case: " + tag).where(what.isna(), "edge case: " + tag + " (" + what + ")")
    tagged = tag.notna().to_numpy()
    causes.add_at(wrong[tagged], "edge_case", edge.to_numpy(dtype=object)[tagged])
    causes.add_at(wrong, "changed_after_sync", CHANGED)

    return pd.DataFrame(
        {"key": table["key"], "class": classes, "cause_code": causes.code, "cause": causes.cause}
    )


class _Causes:
    """Cause per table row; the first rule that applies to a row wins."""

    def __init__(self, n: int) -> None:
        self.cause = np.full(n, "", dtype=object)
        self.code = np.full(n, "", dtype=object)

    def add(self, mask: np.ndarray, code: str, text: str | pd.Series) -> None:
        """Rows in `mask` (a boolean array over the table) get this cause unless they have one;
        `text` is one string or a Series over the whole table."""
        free = np.flatnonzero(mask & (self.code == ""))
        values = text if isinstance(text, str) else text.to_numpy(dtype=object)[free]
        self.cause[free] = values
        self.code[free] = code

    def add_at(self, rows: np.ndarray, code: str, text: str | np.ndarray) -> None:
        """Like `add`, for table positions `rows`; an array `text` is aligned with `rows`."""
        free = self.code[rows] == ""
        self.cause[rows[free]] = text if isinstance(text, str) else text[free]
        self.code[rows[free]] = code


def _text(values: np.ndarray, only: np.ndarray | None = None) -> pd.Series:
    """Values as text for cause strings, null kept as null (positions as in `values`); with
    `only` (a mask), the other positions are null: a window has thousands of discrepancies
    and a cause needs the text of few of them."""
    series = pd.Series(values, dtype=object)
    if only is not None:
        series = series.where(only, None)
    present = series.notna().to_numpy()
    if present.any():
        series[present] = [v if isinstance(v, str) else str(v) for v in series[present]]
    return series


def cause_counts(diagnosis: pd.DataFrame) -> pd.DataFrame:
    """Keys per class and cause code, largest first: the summary line of an alert."""
    counts = diagnosis.groupby(["class", "cause_code"], sort=False).size()
    return counts.rename("keys").reset_index().sort_values("keys", ascending=False, kind="stable")


_GONE = " but gone from the destination: deleted by hand"


def _lookup(keys: pd.Series, frame: pd.DataFrame | None, column: str) -> np.ndarray:
    """`frame[column]` for each key (first row per key), None where the key is absent."""
    out = np.full(len(keys), None, dtype=object)
    if frame is None or not len(frame) or not len(keys):
        return out
    left, right = _same_type(keys, frame["key"])
    # only the rows of the keys asked for (a window's tags are a row per source record)
    asked = keys_among(right, left) & frame[column].notna().to_numpy(dtype=bool)
    right = right[asked]
    first = ~right.duplicated().to_numpy(dtype=bool)
    pos = pd.Index(right[first]).get_indexer(left)
    hit = pos >= 0
    out[hit] = frame[column][asked].to_numpy(dtype=object)[first][pos[hit]]
    return out


def keys_among(keys: pd.Series, wanted: pd.Series) -> np.ndarray:
    """Which of `keys` are in `wanted` (e.g. a window's tags against its few discrepant
    keys); in Arrow for Arrow text, without a Python string per key."""
    if all(isinstance(k.dtype, pd.StringDtype) and k.dtype.storage == "pyarrow"
           for k in (keys, wanted)):
        value_set = pa.chunked_array(wanted).combine_chunks()
        found = pc.is_in(pa.chunked_array(keys), value_set=value_set)
        return np.asarray(pc.fill_null(found, False).to_numpy(), dtype=bool)
    return keys.isin(wanted).to_numpy(dtype=bool)


def _same_type(a: pd.Series, b: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Keys comparable across frames: the ledger and dead letters hold text ids."""
    integer = [isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu" for s in (a, b)]
    if all(integer):
        return a, b
    return a.astype(str), b.astype(str)


def _edge_tags(tags: np.ndarray) -> np.ndarray:
    """The first `edge:*` tag in each tags string (None where there is none)."""
    if not pd.notna(tags).any():
        return np.full(len(tags), None, dtype=object)
    found = pd.Series(tags, dtype=object).fillna("").astype(str).str.extract(EDGE_TAG)[0]
    # pandas-stubs type na_value as a Scalar; None is a valid fill value at runtime
    edges: np.ndarray = found.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return edges


def _ledger_column(result: ReconciliationResult, rows: np.ndarray, column: str,
                   only: np.ndarray) -> np.ndarray:
    """The ledger's `column` for the table rows in `only` (a mask) that have a ledger row,
    None elsewhere: only those become Python objects (a window's ledger timestamps are
    thousands, and a cause needs few)."""
    out = np.full(len(rows), None, dtype=object)
    has = only & (rows != NO_ROW)
    if column in result.ledger.columns and has.any():
        out[has] = result.ledger[column].iloc[rows[has]].to_numpy(dtype=object)
    return out


def _duplicates(
    result: ReconciliationResult, ledger_ids: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For duplicated keys (in table order): whether the ledger's record is among the
    destination's records, and the cause text naming the ledger's id and the extra ids."""
    rows = result.duplicate_rows
    if not len(rows):
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=object)
    keys = result.destination["key"].to_numpy()[rows]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(rows)].astype(np.int64)
    group = np.repeat(np.arange(len(starts)), ends - starts)
    ids = np.array([str(i) for i in result.destination["destination_id"].to_numpy()[rows]], object)
    ledger = np.array([None if pd.isna(i) else str(i) for i in ledger_ids], dtype=object)
    is_ledger = ids == ledger[group]
    retried = np.bincount(group, weights=is_ledger, minlength=len(starts)) > 0
    extra = [", ".join(ids[a:b][~is_ledger[a:b]]) for a, b in zip(starts, ends, strict=True)]
    text = [
        f"retried create without idempotency (ledger id {lid}, extra ids {more})"
        for lid, more in zip(ledger, extra, strict=True)
    ]
    return retried, np.array(text, dtype=object)
