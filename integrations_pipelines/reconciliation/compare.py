"""Vectorised comparison of one field across matched source and destination records.

Each function answers, for aligned pairs of rows, "does the destination hold a different value
than the source wants?" under the rules of `fields.FieldSpec`. Numbers, dates and booleans are
converted to integer arrays once per column and compared with numpy. Text and currencies are
first compared raw (equal raw values are equal after any normalisation); only the pairs whose raw
values differ are normalised, so the cost follows the number of differences, not of records.
Text held as Arrow strings on both sides is gathered and compared raw by Arrow's kernels; only
the differing pairs become Python strings.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from integrations_pipelines.mapping.text import fit, normalize_text
from integrations_pipelines.reconciliation.fields import FieldSpec

__all__ = ["Canon", "Convert", "currency_canon", "field_differs", "text_canon"]

Canon = Callable[[object], object]
Convert = Callable[[pd.Series], tuple[np.ndarray, np.ndarray]]


def field_differs(
    spec: FieldSpec,
    source: pd.Series,
    source_rows: np.ndarray,
    destination: pd.Series,
    destination_rows: np.ndarray,
    money_tolerance: int = 0,
) -> np.ndarray:
    """Boolean array: True where destination[destination_rows[i]] differs from
    source[source_rows[i]] for this field (positions, not index labels)."""
    if spec.kind in ("text", "currency"):
        canon = text_canon(spec) if spec.kind == "text" else currency_canon
        if _is_arrow_text(source) and _is_arrow_text(destination):
            if _few_values(source) and _few_values(destination):
                return _coded_differs_after(canon, source, source_rows, destination,
                                            destination_rows)
            return _arrow_differs_after(canon, source, source_rows, destination,
                                        destination_rows)
        src = _gather(_objects(source), source_rows)
        dst = _gather(_objects(destination), destination_rows)
        return _differs_after(canon, src, dst)
    convert: Convert
    tolerance: int
    if spec.kind == "money":
        convert, tolerance = (lambda s: _minor_units(s, spec.scale)), money_tolerance
    elif spec.kind == "date":
        convert, tolerance = _days, 0
    elif spec.kind == "bool":
        convert, tolerance = _bools, 0
    else:
        convert, tolerance = _integers, 0
    src_values, src_null = convert(source)
    dst_values, dst_null = convert(destination)
    return _numbers_differ(
        src_values.take(source_rows),
        _take_mask(src_null, source_rows),
        dst_values.take(destination_rows),
        _take_mask(dst_null, destination_rows),
        tolerance,
    )


def _take_mask(mask: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return mask.take(rows) if mask.any() else np.zeros(len(rows), dtype=bool)


def text_canon(spec: FieldSpec) -> Canon:
    """The text as the mapping writes it: normalised, and cut to the destination's limit."""
    limit = spec.max_len

    def canon(value: object) -> str:
        text = "" if value is None else str(value)
        if (limit is None or len(text) <= limit) and _already_normal(text):
            return text
        return normalize_text(text) if limit is None else fit(text, limit)

    return canon


def _already_normal(text: str) -> bool:
    """True when `normalize_text` would return the text unchanged: NFC already, no astral
    or control characters, single spaces only, nothing to trim. Checked in C, unlike the
    rewrite."""
    return (
        unicodedata.is_normalized("NFC", text)
        and not _ASTRAL.search(text)
        and not _CONTROL.search(text)
        and not _UNTIDY_SPACE.search(text)
    )


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # as mapping.text removes them
_UNTIDY_SPACE = re.compile(r"^\s|\s$|\s\s|[^\S ]")


def currency_canon(value: object) -> object:
    """ISO currency codes compare case-insensitively ("usd" is USD), otherwise exactly."""
    return None if value is None else str(value).upper()


def _objects(series: pd.Series) -> np.ndarray:
    """The column as a numpy object array, without a copy where pandas allows (NaN stays)."""
    dtype = series.dtype
    if pd.api.types.is_object_dtype(dtype) or (
        isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan
    ):
        return series.to_numpy()
    # pandas-stubs type na_value as a Scalar; None is a valid fill value at runtime
    values: np.ndarray = series.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    return values


def _gather(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """values[rows] for an object array. pandas' one-pass take (allow_fill; rows are never -1)
    is about twice as fast as numpy's here: numpy copies the pointers, then increments every
    object's reference count in a second pass of random reads."""
    # an ndarray in gives an ndarray out; the stubs return ndarray | ExtensionArray
    return cast(np.ndarray, pd.api.extensions.take(values, rows, allow_fill=True))


def _is_arrow_text(series: pd.Series) -> bool:
    """True for text held by Arrow (pandas' `str` dtype on pyarrow, or an Arrow string type)."""
    dtype = series.dtype
    if isinstance(dtype, pd.StringDtype):
        return dtype.storage == "pyarrow"
    if isinstance(dtype, pd.ArrowDtype):
        arrow = dtype.pyarrow_dtype
        return bool(pa.types.is_string(arrow) or pa.types.is_large_string(arrow))
    return False


def _arrow_differs_after(canon: Canon, source: pd.Series, source_rows: np.ndarray,
                         destination: pd.Series, destination_rows: np.ndarray) -> np.ndarray:
    """`_differs_after` for Arrow text: the gather and the raw comparison run in Arrow (two
    nulls are equal, a null and a value differ); only the differing pairs are normalised."""
    src = pa.chunked_array(source).take(source_rows)  # the frame's chunks, not a copy
    dst = pa.chunked_array(destination).take(destination_rows)
    equal = pc.fill_null(pc.equal(src, dst), False)
    both_null = pc.and_(pc.is_null(src), pc.is_null(dst))
    differs = np.asarray(pc.invert(pc.or_(equal, both_null)).to_numpy(), dtype=bool).copy()
    candidates = np.flatnonzero(differs)
    if candidates.size:
        a = np.array(src.take(candidates).to_pylist(), dtype=object)
        b = np.array(dst.take(candidates).to_pylist(), dtype=object)
        differs[candidates] = _differs_after(canon, a, b)
    return differs


_FEW = 64  # distinct values in a column's first rows below which it is coded, not gathered
_PROBE = 4_096


def _few_values(series: pd.Series) -> bool:
    """True when the column's first rows hold few distinct values (currencies, statuses):
    coding it is then cheaper than gathering its text in random order."""
    head = pa.chunked_array(series.iloc[:_PROBE])
    return bool(pc.count_distinct(head, mode="all").as_py() <= _FEW)


def _coded_differs_after(canon: Canon, source: pd.Series, source_rows: np.ndarray,
                         destination: pd.Series, destination_rows: np.ndarray) -> np.ndarray:
    """`_differs_after` for low-cardinality text: each side is coded once in column order
    (Arrow's hash pass), every pair of distinct values is judged once (`_differs_after` on
    the few pairs, so nulls and the canonical form count as always), and the rows compare
    integer codes. Falls back to gathering the text when the values turn out many."""
    src_codes, src_values = pd.factorize(source, use_na_sentinel=True)
    dst_codes, dst_values = pd.factorize(destination, use_na_sentinel=True)
    if len(src_values) * len(dst_values) > _FEW * _FEW:
        return _arrow_differs_after(canon, source, source_rows, destination, destination_rows)
    # every value of each side, and null, at the last position (code -1)
    a = np.array([*np.asarray(src_values, dtype=object), None], dtype=object)
    b = np.array([*np.asarray(dst_values, dtype=object), None], dtype=object)
    pair_a, pair_b = np.repeat(a, len(b)), np.tile(b, len(a))
    judged = _differs_after(canon, pair_a, pair_b).reshape(len(a), len(b))
    left = np.asarray(src_codes, dtype=np.int64).take(source_rows)
    right = np.asarray(dst_codes, dtype=np.int64).take(destination_rows)
    return judged[left, right]


def _differs_after(canon: Canon, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Raw comparison first; then nulls, and normalisation of the pairs whose raw values
    differ (null is None to the canonical forms)."""
    differs: np.ndarray
    try:
        differs = np.asarray(src != dst, dtype=bool)
    except TypeError:  # pd.NA in an object column: compare with every null as None
        # pandas-stubs type na_value as a Scalar; None is a valid fill value at runtime
        src, dst = (
            pd.Series(v, dtype=object).to_numpy(  # type: ignore[call-overload]
                dtype=object, na_value=None)
            for v in (src, dst))
        differs = np.asarray(src != dst, dtype=bool)
    candidates = np.flatnonzero(differs)
    if candidates.size:
        a, b = src[candidates], dst[candidates]
        a_null, b_null = pd.isna(a), pd.isna(b)
        differs[candidates[a_null & b_null]] = False
        check = np.flatnonzero(~(a_null & b_null))
        # numpy's stubs do not take None as an ArrayLike; np.where makes it an object scalar
        a = np.where(a_null, None, a)[check]  # type: ignore[call-overload]
        b = np.where(b_null, None, b)[check]  # type: ignore[call-overload]
        differs[candidates[check]] = [canon(x) != canon(y) for x, y in zip(a, b, strict=True)]
    return differs


def _numbers_differ(
    a: np.ndarray, a_null: np.ndarray, b: np.ndarray, b_null: np.ndarray, tolerance: int
) -> np.ndarray:
    both = ~(a_null | b_null)
    apart = np.abs(a - b) > tolerance if tolerance else a != b
    differs: np.ndarray = (a_null != b_null) | (both & apart)
    return differs


def _is_plain_int(series: pd.Series) -> bool:
    return isinstance(series.dtype, np.dtype) and series.dtype.kind in "iu"


def _minor_units(series: pd.Series, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """Money as int64 minor units (`round(value * 10**scale)`, half to even) and a null mask."""
    factor = 10**scale
    if _is_plain_int(series):
        return series.to_numpy(dtype=np.int64) * factor, np.zeros(len(series), dtype=bool)
    values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
    null = np.isnan(values)
    return np.rint(np.where(null, 0.0, values) * factor).astype(np.int64), null


def _integers(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer counts and ids; compared exactly (as float64 when the column has nulls)."""
    if _is_plain_int(series):
        return series.to_numpy(dtype=np.int64), np.zeros(len(series), dtype=bool)
    values = pd.to_numeric(series).to_numpy(dtype=np.float64, na_value=np.nan)
    null = np.isnan(values)
    return np.where(null, 0.0, values), null


def _bools(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Flags (voided, paid) compared exactly; null is its own value."""
    if series.dtype == bool:
        return series.to_numpy(dtype=bool), np.zeros(len(series), dtype=bool)
    null = series.isna().to_numpy(dtype=bool)
    return series.to_numpy(dtype=object, na_value=False).astype(bool), null


def _days(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Calendar dates as int64 day numbers; an aware timestamp counts as its local date."""
    if not pd.api.types.is_datetime64_any_dtype(series.dtype):
        try:
            series = pd.to_datetime(series)
        except (ValueError, TypeError):  # mixed zones or types: slow, one value at a time
            return _days_one_by_one(series)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_localize(None)
    days = series.to_numpy().astype("datetime64[D]")
    null = np.isnat(days)
    return days.view(np.int64), null


def _days_one_by_one(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    # pandas-stubs type na_value as a Scalar; None is a valid fill value at runtime
    values = series.to_numpy(dtype=object, na_value=None)  # type: ignore[call-overload]
    null = np.array([v is None for v in values], dtype=bool)
    days = [0 if v is None else (pd.Timestamp(v).date() - _EPOCH).days for v in values]
    return np.asarray(days, dtype=np.int64), null


_EPOCH = dt.date(1970, 1, 1)
