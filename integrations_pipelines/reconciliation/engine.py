"""Classify every key of a window: missing, extra, duplicate, stale, wrong_values or ok.

Inputs (plain DataFrames, fetched by the caller):
- `source`: `key`, `version`, and one column per compared field holding the values the
  destination should have (the mapping's output for that source version). A key present more
  than once keeps its highest version (ties: the later row).
- `destination`: `key`, `destination_id`, and the compared fields as read back.
- `ledger`: `key`, `source_version` (the source version last written), optionally
  `destination_id` (what the sync created; used by the diagnosis). One row per key.

Rules, per key (the union of source and destination keys):
- duplicate: more than one destination record (wins over every other class);
- missing: in the source, not in the destination; extra: in the destination only;
- otherwise the values are compared (`compare.field_differs`); equal values are ok; different
  values are stale when the ledger's version is older than the source's current version (an
  update never synced), else wrong_values (the ledger is current, or there is no ledger row).

Everything is vectorised over sorted int64 keys (text keys are factorised first, by hash):
numpy sorts, `searchsorted` joins, and per-field comparisons of aligned arrays. No Python loop
runs per record; only text pairs whose raw values differ are normalised one by one, and only
the discrepant keys' text is read back (to put them in text order). Text held as Arrow strings
(pandas' `str` dtype with pyarrow, what the pairs' readers build) is hashed, gathered and
compared in Arrow's C++ kernels without creating a Python object per record.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from integrations_pipelines.reconciliation.compare import field_differs
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.reconciliation.result import (
    NO_ROW,
    Outcome,
    ReconciliationResult,
)

__all__ = ["CLASS_ORDER", "DESTINATION_COLUMNS", "LEDGER_COLUMNS", "SOURCE_COLUMNS", "reconcile"]

SOURCE_COLUMNS = ("key", "version")
DESTINATION_COLUMNS = ("key", "destination_id")
LEDGER_COLUMNS = ("key", "source_version")
CLASS_ORDER = [
    Outcome.MISSING,
    Outcome.EXTRA,
    Outcome.DUPLICATE,
    Outcome.STALE,
    Outcome.WRONG_VALUES,
]


def reconcile(
    source: pd.DataFrame,
    destination: pd.DataFrame,
    ledger: pd.DataFrame,
    fields: Sequence[FieldSpec],
    *,
    money_tolerance: int = 0,
) -> ReconciliationResult:
    """Compare one window's source records with the destination's, using the sync ledger to
    tell a stale record (an update that never synced) from a wrong one."""
    fields = tuple(fields)
    _validate(source, destination, ledger, fields, money_tolerance)

    src_codes, dst_codes, led_codes, key_values = _key_codes(
        source["key"], destination["key"], ledger["key"]
    )
    s_keys, s_rows = _latest_per_key(src_codes, source["version"])
    dst = _DestinationIndex(dst_codes)
    led = _LedgerIndex(led_codes)

    pos, found = _locate(dst.keys, s_keys)
    seen = np.zeros(len(dst.keys), dtype=bool)
    seen[pos[found]] = True
    pair = found.copy()
    pair[found] = ~dst.duplicated[pos[found]]
    src_pair, dst_pair = _in_source_order(s_rows[pair], dst.first[pos[pair]], len(source))

    cand, diffs = _differing(source, destination, fields, src_pair, dst_pair, src_codes,
                             money_tolerance)
    cand_src, cand_dst = src_pair[cand], dst_pair[cand]
    cand_keys = src_codes[cand_src]
    stale = _older(ledger["source_version"], led.rows(cand_keys), source["version"], cand_src)

    missing = ~found
    extra = ~seen & ~dst.duplicated
    dup_keys = dst.keys[dst.duplicated]
    parts = [
        (Outcome.MISSING, s_keys[missing], s_rows[missing], np.full(missing.sum(), NO_ROW)),
        (Outcome.EXTRA, dst.keys[extra], np.full(extra.sum(), NO_ROW), dst.first[extra]),
        (
            Outcome.DUPLICATE,
            dup_keys,
            _rows_of(s_keys, s_rows, dup_keys),
            dst.first[dst.duplicated],
        ),
        (Outcome.STALE, cand_keys[stale], cand_src[stale], cand_dst[stale]),
        (Outcome.WRONG_VALUES, cand_keys[~stale], cand_src[~stale], cand_dst[~stale]),
    ]
    n_other = int(missing.sum() + extra.sum() + len(dup_keys))
    field_diffs = np.concatenate(
        [np.zeros((n_other, len(fields)), bool), diffs[stale], diffs[~stale]])
    parts, field_diffs = _in_key_order(parts, field_diffs, key_values)
    duplicate_rows = dst.duplicate_rows
    if key_values is not None and len(duplicate_rows):  # its groups in the table's order
        dup_part = next(p[1] for p in parts if p[0] == Outcome.DUPLICATE)
        rank = pd.Index(dup_part).get_indexer(dst_codes[duplicate_rows])
        duplicate_rows = duplicate_rows[np.argsort(rank, kind="stable")]
    return ReconciliationResult(
        fields=fields,
        source_records=len(s_keys),
        destination_records=len(destination),
        ok_count=int(pair.sum() - len(cand)),
        table=_table(parts, key_values, led),
        field_diffs=field_diffs,
        duplicate_rows=duplicate_rows,
        source=source,
        destination=destination,
        ledger=ledger,
    )


def _validate(source: pd.DataFrame, destination: pd.DataFrame, ledger: pd.DataFrame,
              fields: tuple[FieldSpec, ...], money_tolerance: int) -> None:
    """Refuse frames without the columns the comparison reads, or sources without versions."""
    _require(source, "source", SOURCE_COLUMNS, fields)
    _require(destination, "destination", DESTINATION_COLUMNS, fields)
    _require(ledger, "ledger", LEDGER_COLUMNS, ())
    if money_tolerance < 0:
        raise ValueError("money_tolerance is in minor units and must be >= 0")
    if source["version"].isna().any():
        raise ValueError("source: every record needs a version")


def _differing(source: pd.DataFrame, destination: pd.DataFrame, fields: tuple[FieldSpec, ...],
               src_pair: np.ndarray, dst_pair: np.ndarray, src_codes: np.ndarray,
               money_tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """The paired records whose fields differ (positions into the pairs, in key order) and,
    per such pair, which of the fields differ."""
    per_field = [
        field_differs(f, source[f.name], src_pair, destination[f.name], dst_pair, money_tolerance)
        for f in fields
    ]
    any_diff = np.logical_or.reduce(per_field) if per_field else np.zeros(len(src_pair), bool)
    cand = np.flatnonzero(any_diff)
    cand = cand[np.argsort(src_codes[src_pair[cand]])]  # few: back to key order
    diffs = np.zeros((len(cand), len(fields)), dtype=bool)
    for j, differs in enumerate(per_field):
        diffs[:, j] = differs[cand]
    return cand, diffs


def _require(
    frame: pd.DataFrame, name: str, columns: Sequence[str], fields: Sequence[FieldSpec]
) -> None:
    wanted = [*columns, *(f.name for f in fields)]
    absent = [c for c in wanted if c not in frame.columns]
    if absent:
        raise ValueError(f"{name}: missing columns {absent}")


class _Factorised:
    """Text keys factorised by hash: code i is uniques[i]."""

    def __init__(self, uniques: pd.Index) -> None:
        self.uniques = uniques

    def take(self, codes: np.ndarray) -> pd.Index:
        return self.uniques.take(codes)


class _Numbered:
    """Text keys that are one prefix and a number written without leading zeros (DocNumbers
    `S1001`): code n is the prefix followed by n, so no key is hashed or stored to decode."""

    def __init__(self, prefix: str, dtype: pd.StringDtype) -> None:
        self.prefix, self.dtype = prefix, dtype

    def take(self, codes: np.ndarray) -> pd.Index:
        return pd.Index([f"{self.prefix}{c}" for c in codes.tolist()], dtype=self.dtype)


KeyText = _Factorised | _Numbered


def _key_codes(
    src: pd.Series, dst: pd.Series, led: pd.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray, KeyText | None]:
    """Keys as int64 codes; integer keys are their own codes (key_values None), numbered text
    keys held as Arrow strings (DocNumbers) are parsed, and other keys (UUIDs) are factorised
    together, in order of appearance; key_values decodes the codes back to the keys' text, in
    the keys' own dtype."""
    frames = {"source": src, "destination": dst, "ledger": led}
    for name, keys in frames.items():
        if keys.isna().any():
            raise ValueError(f"{name}: null keys")
    kinds = {name: _key_kind(keys) for name, keys in frames.items() if len(keys)}
    if len(set(kinds.values()) - {"integer"}) and "integer" in kinds.values():
        raise ValueError(f"keys must have one type in all frames, got {kinds}")
    if not kinds:  # every frame empty: integer keys only if every frame says so
        kinds = {name: _key_kind(keys) for name, keys in frames.items()}
        kinds = kinds if set(kinds.values()) == {"integer"} else {}
    if kinds and all(kind == "integer" for kind in kinds.values()):
        a, b, c = (k.to_numpy(dtype=np.int64) for k in (src, dst, led))
        return a, b, c, None
    numbered = _numbered_codes(src, dst, led)
    if numbered is not None:
        return numbered
    # Hashed, not sorted: sorting millions of Python strings was most of the time; only the
    # discrepant keys are put in text order (`_in_key_order`).
    codes, uniques = pd.factorize(pd.concat([src, dst, led], ignore_index=True))
    end_src, end_dst = len(src), len(src) + len(dst)
    return (codes[:end_src].astype(np.int64, copy=False),
            codes[end_src:end_dst].astype(np.int64, copy=False),
            codes[end_dst:].astype(np.int64, copy=False), _Factorised(pd.Index(uniques)))


_MAX_DIGITS = 18  # below 2**63


def _numbered_codes(
    *keys: pd.Series,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, _Numbered] | None:
    """Codes for Arrow text keys that all read `<prefix><number>` with one prefix and the
    number in canonical digits (1 to 18 of them, no leading zero): the number, parsed in
    Arrow. A key of any other shape, or keys not held by Arrow: None (they are factorised)."""
    if not all(_is_arrow_text(k) and k.dtype == keys[0].dtype for k in keys):
        return None
    arrays = [pa.chunked_array(k) for k in keys]  # the frames' chunks, not copies
    sample = next((a[0].as_py() for a in arrays if len(a)), None)
    if not isinstance(sample, str):
        return None
    prefix = sample.rstrip("0123456789")
    codes = []
    for array in arrays:
        parsed = [_parsed(chunk, prefix) for chunk in array.chunks]  # small temporaries
        if any(p is None for p in parsed):
            return None
        codes.append(np.concatenate([np.zeros(0, dtype=np.int64), *parsed]))
    dtype = keys[0].dtype
    assert isinstance(dtype, pd.StringDtype)  # checked by _is_arrow_text
    return codes[0], codes[1], codes[2], _Numbered(prefix, dtype)


_POWERS = np.array([10**k for k in range(1, _MAX_DIGITS + 1)], dtype=np.int64)


def _parsed(chunk: pa.Array, prefix: str) -> np.ndarray | None:
    """The numbers after `prefix` in one Arrow chunk of keys; None unless every key is the
    prefix and a canonical number. Canonical is checked on the parsed numbers: a key's
    length must be the prefix's plus the number's digits (no sign, no leading zero, no
    space), which takes fewer passes over the text than checking its characters."""
    if not len(chunk):
        return np.zeros(0, dtype=np.int64)
    if chunk.null_count:
        return None
    try:
        numbers = np.asarray(pc.cast(pc.utf8_slice_codeunits(chunk, len(prefix)),
                                     pa.int64()).to_numpy(), dtype=np.int64)
    except pa.ArrowInvalid:  # not a number Arrow reads (letters, other scripts, empty)
        return None
    if numbers.min() < 0 or numbers.max() >= 10**_MAX_DIGITS:
        return None
    digits = np.searchsorted(_POWERS, numbers, side="right") + 1
    lengths = np.asarray(pc.binary_length(chunk).to_numpy(), dtype=np.int64)
    if not (np.array_equal(lengths, digits + len(prefix.encode()))
            and pc.all(pc.starts_with(chunk, prefix)).as_py()):
        return None
    return numbers


def _is_arrow_text(keys: pd.Series) -> bool:
    dtype = keys.dtype
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _key_kind(keys: pd.Series) -> str:
    """The key type: "integer" also for integers held in an object column, else as inferred
    (a text dtype is "string" without looking at every value)."""
    if isinstance(keys.dtype, np.dtype) and keys.dtype.kind in "iu":
        return "integer"
    if isinstance(keys.dtype, pd.StringDtype):
        return "string"
    return pd.api.types.infer_dtype(keys, skipna=False)


def _stable_argsort(codes: np.ndarray) -> np.ndarray:
    """`np.argsort(codes, kind="stable")`, faster when the key range allows: dense keys
    (factorised codes, consecutive order numbers) are counted into place without a sort;
    otherwise each key is packed with its row number into one int64 and those are sorted."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    low, high = int(codes.min()), int(codes.max())
    if high - low < _DENSE * len(codes):
        return _counting_argsort(codes - low, high - low + 1)
    bits = max(1, (len(codes) - 1).bit_length())
    if (high - low) >> (62 - bits):
        return np.argsort(codes, kind="stable")
    packed = ((codes - low) << bits) | np.arange(len(codes), dtype=np.int64)
    packed.sort()
    return packed & ((1 << bits) - 1)


_DENSE = 8  # key range per record below which counting beats sorting (measured: a
# chunk of 200k DocNumbers spread over 1.1M numbers sorts in 9 ms, counts in 5 ms)


def _counting_argsort(codes: np.ndarray, span: int) -> np.ndarray:
    """The stable sort order of codes in [0, span). Distinct keys (a source, a ledger): each
    record is put in its key's slot and the filled slots, in key order, are the order. Else a
    counting sort: each record goes to its key's first place, and the few records of repeated
    keys are ranked by a sort of their own."""
    rows = np.arange(len(codes), dtype=np.int64)
    slot = np.full(span, -1, dtype=np.int64)
    slot[codes] = rows
    filled = slot >= 0
    if np.count_nonzero(filled) == len(codes):  # every record found a slot of its own
        return slot[filled]
    del slot, filled
    counts = np.bincount(codes, minlength=span)
    starts = np.cumsum(counts) - counts
    order = np.empty(len(codes), dtype=np.int64)
    repeated = counts[codes] > 1
    if not repeated.any():
        order[starts[codes]] = rows
        return order
    single = rows[~repeated]
    order[starts[codes[single]]] = single
    few = rows[repeated]
    few = few[np.argsort(codes[few], kind="stable")]
    few_codes = codes[few]
    rank = np.arange(len(few)) - np.searchsorted(few_codes, few_codes)
    order[starts[few_codes] + rank] = few
    return order


def _latest_per_key(codes: np.ndarray, versions: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct keys and, for each, the row of its highest version (ties: later row)."""
    order = _stable_argsort(codes)
    ordered = codes[order]
    repeated = ordered[1:] == ordered[:-1]
    if not repeated.any():
        return ordered, order
    in_group = np.zeros(len(order), dtype=bool)
    in_group[1:] |= repeated
    in_group[:-1] |= repeated
    group_rows = np.sort(order[in_group])
    latest = (
        pd.DataFrame({"code": codes[group_rows], "version": versions.iloc[group_rows].array})
        .set_axis(group_rows)
        .sort_values("version", kind="stable")
        .drop_duplicates("code", keep="last")
        .index.to_numpy()
    )
    keep = np.concatenate([order[~in_group], latest])
    keep = keep[np.argsort(codes[keep])]
    return codes[keep], keep


class _DestinationIndex:
    """The destination's distinct keys (sorted), how many records each has, and its first
    record; the records of duplicated keys, by key then position."""

    def __init__(self, codes: np.ndarray) -> None:
        order = _stable_argsort(codes)
        ordered = codes[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]) if len(codes) else order
        counts = np.diff(np.r_[starts, len(ordered)])
        self.keys = ordered[starts]
        self.duplicated = counts > 1
        self.first = order[starts]
        self.duplicate_rows = order[np.repeat(self.duplicated, counts)]


def _locate(sorted_keys: np.ndarray, queries: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each query in sorted_keys (clipped) and whether it is there."""
    if not len(sorted_keys):
        return np.zeros(len(queries), dtype=np.int64), np.zeros(len(queries), dtype=bool)
    pos = np.minimum(np.searchsorted(sorted_keys, queries), len(sorted_keys) - 1)
    return pos, sorted_keys[pos] == queries


def _in_source_order(
    src_rows: np.ndarray, dst_rows: np.ndarray, n_source: int
) -> tuple[np.ndarray, np.ndarray]:
    """Matched pairs ordered by source position, so that reading the source's columns is
    sequential (random reads of millions of Python strings are what costs, not the compare)."""
    by_source = np.full(n_source, NO_ROW, dtype=np.int64)
    by_source[src_rows] = dst_rows
    ordered = np.flatnonzero(by_source != NO_ROW)
    return ordered, by_source[ordered]


def _rows_of(s_keys: np.ndarray, s_rows: np.ndarray, keys: np.ndarray) -> np.ndarray:
    pos, found = _locate(s_keys, keys)
    return np.where(found, s_rows[pos] if len(s_rows) else NO_ROW, NO_ROW)


class _LedgerIndex:
    """The ledger's keys, sorted for lookups; a key may appear once (the ledger's primary key)."""

    def __init__(self, codes: np.ndarray) -> None:
        self.order = _stable_argsort(codes)
        self.keys = codes[self.order]
        if (self.keys[1:] == self.keys[:-1]).any():
            raise ValueError("ledger: a key appears more than once")

    def rows(self, codes: np.ndarray) -> np.ndarray:
        pos, found = _locate(self.keys, codes)
        return np.where(found, self.order[pos] if len(self.order) else NO_ROW, NO_ROW)


def _older(
    ledger_versions: pd.Series,
    ledger_rows: np.ndarray,
    source_versions: pd.Series,
    source_rows: np.ndarray,
) -> np.ndarray:
    """True where the ledger row exists and its version is older than the source's version."""
    has = ledger_rows != NO_ROW
    older = np.zeros(len(ledger_rows), dtype=bool)
    if has.any():
        lv = ledger_versions.iloc[ledger_rows[has]].reset_index(drop=True)
        sv = source_versions.iloc[source_rows[has]].reset_index(drop=True)
        older[has] = (lv < sv).fillna(False).to_numpy(dtype=bool)
    return older


def _in_key_order(parts: list[tuple[Outcome, np.ndarray, np.ndarray, np.ndarray]],
                  field_diffs: np.ndarray, key_values: KeyText | None,
                  ) -> tuple[list[tuple[Outcome, np.ndarray, np.ndarray, np.ndarray]],
                             np.ndarray]:
    """Each class's rows in key order, with their field differences: factorised text keys
    are coded in order of appearance, so the (few) discrepant ones are sorted here by their
    text. Integer keys are their own codes, already in order."""
    if key_values is None:
        return parts, field_diffs
    ordered, rows, start = [], [], 0
    for outcome, keys, src_rows, dst_rows in parts:
        try:
            order = np.argsort(key_values.take(keys).to_numpy(dtype=object), kind="stable")
        except TypeError:  # keys of mixed types that do not order: leave them as they come
            order = np.arange(len(keys))
        ordered.append((outcome, keys[order], src_rows[order], dst_rows[order]))
        rows.append(start + order)
        start += len(keys)
    return ordered, field_diffs[np.concatenate(rows)] if rows else field_diffs


def _table(
    parts: list[tuple[Outcome, np.ndarray, np.ndarray, np.ndarray]],
    key_values: KeyText | None,
    ledger: _LedgerIndex,
) -> pd.DataFrame:
    codes = np.concatenate([p[1] for p in parts])
    classes = np.repeat(np.arange(len(parts), dtype=np.int8), [len(p[1]) for p in parts])
    return pd.DataFrame(
        {
            "key": codes if key_values is None else key_values.take(codes).array,
            # pandas-stubs want an Index for categories; any list-like is accepted at runtime
            "class": pd.Categorical.from_codes(  # type: ignore[call-overload]
                classes, categories=[str(c) for c in CLASS_ORDER]),
            "source_row": np.concatenate([p[2] for p in parts]).astype(np.int64),
            "destination_row": np.concatenate([p[3] for p in parts]).astype(np.int64),
            "ledger_row": ledger.rows(codes).astype(np.int64),
        }
    )
