"""The vectorised engine and diagnosis agree exactly with the dict-and-loop reference on random
windows: duplicated, missing, extra, stale and changed records, nulls of every kind, cosmetic
differences the comparison must ignore, and unicode text."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from integrations_pipelines.mapping.text import fit, normalize_text
from integrations_pipelines.reconciliation.compare import (
    _arrow_differs_after,
    _coded_differs_after,
    currency_canon,
    field_differs,
    text_canon,
)
from integrations_pipelines.reconciliation.diagnosis import Evidence, diagnose
from integrations_pipelines.reconciliation.engine import reconcile
from integrations_pipelines.reconciliation.fields import FieldSpec
from integrations_pipelines.reconciliation.frames import SideLabels, WindowChunks, WindowFrames
from integrations_pipelines.reconciliation.window import RENUMBERED, reconcile_window
from integrations_pipelines.state.key_chunks import key_chunks
from integrations_pipelines_tests.reconciliation import reference

FIELDS = [
    FieldSpec("total", "money"),
    FieldSpec("currency", "currency"),
    FieldSpec("name", "text"),
    FieldSpec("memo", "text", max_len=5),
    FieldSpec("txn_date", "date"),
    FieldSpec("voided", "bool"),
    FieldSpec("lines", "int"),
]
DAY = dt.date(2024, 3, 1)
LABELS = SideLabels(source="shop", source_record="order", destination="books",
                    destination_record="invoice")
NULLS = st.sampled_from([None, float("nan")])
VALUES = {
    "total": st.one_of(NULLS, st.integers(-300, 300).map(lambda c: c / 100)),
    "currency": st.one_of(NULLS, st.sampled_from(["usd", "USD", "EUR", "eur", "JPY"])),
    "name": st.one_of(NULLS, st.text(alphabet="aZé e\u0301\t😀\U0001d518\u00a0'", max_size=6)),
    "memo": st.one_of(NULLS, st.text(alphabet="ab  😀", max_size=9)),
    "txn_date": st.one_of(NULLS, st.integers(0, 2).map(lambda d: DAY + dt.timedelta(days=d))),
    "voided": st.one_of(st.none(), st.booleans()),
    "lines": st.one_of(st.none(), st.integers(0, 3)),
}
ACTIONS = ["copy", "copy", "skip", "change", "change", "cosmetic", "twice"]


def cosmetic(name: str, value: object) -> object:
    """The same value as the destination may spell it."""
    if reference.is_null(value):
        return value
    if name == "total":
        return Decimal(str(value)).quantize(Decimal("0.01"))
    if name == "currency":
        return str(value).swapcase()
    if name in ("name", "memo"):
        return f" {value}😀  "
    if name == "txn_date":  # the same local day; odd days as an aware timestamp
        stamp = pd.Timestamp(value) + pd.Timedelta(hours=13)
        return stamp.tz_localize("Asia/Tokyo") if stamp.day % 2 else stamp
    return value


@st.composite
def windows(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, Evidence, int]:
    key = st.integers(0, 9)
    text_keys = draw(st.booleans())
    arrow = draw(st.booleans())  # text as pandas' `str` dtype (Arrow), as the readers build it
    # DocNumbers padded (factorised) or as production writes them, and bare numbers (parsed)
    key_style = draw(st.sampled_from(["S{:04d}", "S{}", "{}"]))

    def row(k: int) -> dict:
        return {f.name: draw(VALUES[f.name]) for f in FIELDS} | {"key": k}

    keys = draw(st.lists(key, unique=True, max_size=8))
    keys += draw(st.lists(st.sampled_from(keys), max_size=2)) if keys else []
    source = [row(k) | {"version": draw(st.integers(0, 3))} for k in keys]
    destination: list[dict] = []
    for record in source:
        values = {f.name: record[f.name] for f in FIELDS}
        action = draw(st.sampled_from(ACTIONS))
        if action == "skip":
            continue
        if action == "change":
            changed = draw(st.sampled_from([f.name for f in FIELDS]))
            values[changed] = draw(VALUES[changed])
        if action == "cosmetic":
            values = {n: cosmetic(n, v) for n, v in values.items()}
        copies = 2 if action == "twice" else 1
        destination += [values | {"key": record["key"]} for _ in range(copies)]
    destination += [row(k) for k in draw(st.lists(st.integers(5, 14), max_size=3))]
    destination = draw(st.permutations(destination))
    for i, record in enumerate(destination):
        record["destination_id"] = f"d{i}"

    all_keys = sorted({r["key"] for r in source} | {r["key"] for r in destination})
    ledger_keys = [k for k in all_keys if draw(st.integers(0, 3))]
    ids = [r["destination_id"] for r in destination] + ["gone"]
    ledger = [
        {
            "key": k,
            "source_version": draw(st.one_of(st.none(), st.integers(0, 3))),
            "destination_id": draw(st.sampled_from(ids)),
        }
        for k in ledger_keys
    ]
    evidence_key = st.sampled_from(all_keys) if all_keys else key
    evidence = Evidence(
        dead_letters=pd.DataFrame(
            {"key": draw(st.lists(evidence_key, max_size=3)), "reason_code": "no_line_items"}
        ),
        http_failures=pd.DataFrame(
            {"status": draw(st.lists(st.sampled_from([429, 401, 403, 500, None]), max_size=2))},
            dtype=object,
        ),
        tags=pd.DataFrame(
            [
                {"key": k, "tags": draw(st.sampled_from(TAGS))}
                for k in draw(st.lists(evidence_key, max_size=4))
            ],
            columns=["key", "tags"],
        ),
    )

    def frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
        out = pd.DataFrame(rows, columns=columns)
        if text_keys:
            out["key"] = out["key"].map(lambda k: key_style.format(k + 1)).astype(
                "str" if arrow else object)
        else:
            out["key"] = out["key"].astype("int64")
        if arrow:
            out = out.astype({c: "str" for c in ("currency", "name", "memo") if c in out})
        return out

    names = [f.name for f in FIELDS]
    tolerance = draw(st.sampled_from([0, 0, 1]))
    return (
        frame(source, ["key", "version", *names]),
        frame(destination, ["key", "destination_id", *names]),
        frame(ledger, ["key", "source_version", "destination_id"]),
        _text_keyed(evidence, key_style if text_keys else None),
        tolerance,
    )


TAGS = [None, "vip", "edge:astral_chars", "vip, edge:long_name", "edge:multi_currency",
        "edge:odd-thing"]


def _text_keyed(evidence: Evidence, key_style: str | None) -> Evidence:
    if key_style is None:
        return evidence
    frames = {
        "dead_letters": evidence.dead_letters,
        "tags": evidence.tags,
    }
    for name, frame in frames.items():
        frames[name] = frame.assign(key=frame["key"].map(lambda k: key_style.format(k + 1)))
    return Evidence(http_failures=evidence.http_failures, **frames)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows())
def test_engine_and_diagnosis_match_the_reference(window) -> None:
    source, destination, ledger, evidence, tolerance = window
    expected = reference.classify(source, destination, ledger, FIELDS, tolerance)

    result = reconcile(source, destination, ledger, FIELDS, money_tolerance=tolerance)

    got = dict(zip(result.table["key"].tolist(), result.table["class"].astype(str), strict=True))
    assert got == expected.discrepancies()
    for keys in result.keys_by_class.values():  # each class in key order (text order: S10 < S9)
        assert keys.tolist() == sorted(keys.tolist())
    assert result.ok_count == sum(c == "ok" for c in expected.classes.values())
    assert result.source_records == expected.source_keys
    assert result.differing_fields() == {
        k: tuple(f.name for f in FIELDS if f.name in names)
        for k, names in expected.differing.items()
    }
    counts = result.counts
    for outcome in ("missing", "extra", "duplicate", "stale", "wrong_values", "ok"):
        assert counts[outcome] == sum(c == outcome for c in expected.classes.values())
    assert result.drift_rate == len(expected.discrepancies()) / max(1, expected.source_keys)

    causes = diagnose(result, evidence)
    got_causes = {
        k: (code, cause)
        for k, code, cause in zip(causes["key"], causes["cause_code"], causes["cause"], strict=True)
    }
    assert got_causes == reference.diagnose(expected, destination, ledger, evidence)
    for cls in set(expected.classes.values()):
        event(f"class {cls}")
    for code in set(causes["cause_code"]):
        event(f"cause {code}")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.integers(2, 12))
def test_text_is_compared_exactly_as_the_mapping_normalises_it(text: str, limit: int) -> None:
    assert text_canon(FieldSpec("name", "text"))(text) == normalize_text(text)
    assert text_canon(FieldSpec("name", "text", max_len=limit))(text) == fit(text, limit)


def _window(source: pd.DataFrame, destination: pd.DataFrame, ledger: pd.DataFrame,
            evidence: Evidence) -> WindowFrames:
    accounted = pd.DataFrame(columns=[*source.columns, "reason_code"])
    return WindowFrames(start=DAY, end=DAY + dt.timedelta(days=1), source=source,
                        destination=destination, ledger=ledger, accounted=accounted,
                        evidence=evidence, source_count=len(source), fields=tuple(FIELDS),
                        labels=LABELS)


def _chunk(frame: pd.DataFrame | None, chunk: int, chunks: int) -> pd.DataFrame | None:
    if frame is None:
        return None
    return frame.loc[key_chunks(frame["key"], chunks) == chunk].reset_index(drop=True)


def _in_chunks(whole: WindowFrames, chunks: int) -> WindowChunks:
    """The window as a reader in key-hash chunks states it: each chunk every record of its
    keys, on every side and in the evidence; the failed calls are the window's."""
    def read(chunk: int) -> WindowFrames:
        evidence = whole.evidence
        parts = [_chunk(f, chunk, chunks) for f in (whole.source, whole.destination,
                                                     whole.ledger)]
        source, destination, ledger = (p if p is not None else pd.DataFrame() for p in parts)
        return _window(source, destination, ledger, Evidence(
            dead_letters=_chunk(evidence.dead_letters, chunk, chunks),
            http_failures=evidence.http_failures, tags=_chunk(evidence.tags, chunk, chunks)))

    def by_id(ids: list[str]) -> pd.DataFrame:
        destination = whole.destination
        return destination.loc[destination["destination_id"].astype(str).isin(ids)]

    return WindowChunks(start=whole.start, end=whole.end, chunks=chunks, read=read,
                        fields=whole.fields, labels=whole.labels, destination_by_id=by_id)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(windows(), st.integers(2, 4))
def test_a_window_compared_in_key_hash_chunks_reports_what_the_whole_window_does(
        window, chunks: int) -> None:
    """Counts, the table's keys and classes in order, differing fields, causes (a record
    renumbered into another chunk included), examples, duplicates and the source ids to
    re-sync: all the same whether the window is compared whole or a chunk at a time."""
    source, destination, ledger, evidence, tolerance = window
    whole_frames = _window(source, destination, ledger, evidence)
    whole = reconcile_window(whole_frames, money_tolerance=tolerance)
    split = reconcile_window(_in_chunks(whole_frames, chunks), money_tolerance=tolerance)

    assert split.chunks == chunks
    assert split.counts == whole.counts
    assert split.result.source_records == whole.result.source_records
    assert split.destination_count == whole.destination_count == len(destination)
    assert split.frames.source_count == whole.frames.source_count
    columns = ["key", "class"]
    assert split.result.table[columns].equals(whole.result.table[columns])
    assert (split.result.field_diffs == whole.result.field_diffs).all()
    assert split.result.differing_fields() == whole.result.differing_fields()
    assert split.result.field_counts() == whole.result.field_counts()
    n = len(whole.result.table)
    assert split.result.examples_markdown(n) == whole.result.examples_markdown(n)
    ids = [split.result.destination["destination_id"].iloc[split.result.duplicate_rows].tolist(),
           whole.result.destination["destination_id"].iloc[whole.result.duplicate_rows].tolist()]
    assert ids[0] == ids[1]
    for cls in ("missing", "extra", "duplicate", "stale", "wrong_values"):
        assert split.keys(cls) == whole.keys(cls)

    assert split.diagnosis.equals(whole.diagnosis)
    if (whole.diagnosis["cause_code"] == RENUMBERED).any():
        event("renumbered")
    event(f"{len(whole.result.table)} discrepancies in {chunks} chunks")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.sampled_from(["usd", "USD", " a😀", "a", "EUR", ""])),
                min_size=1, max_size=12),
       st.lists(st.one_of(st.none(), st.sampled_from(["USD", "a", "a ", "eur", "JPY", ""])),
                min_size=1, max_size=12),
       st.randoms(use_true_random=False), st.sampled_from(["text", "currency"]))
def test_low_cardinality_text_coded_once_compares_as_gathered(src, dst, rnd, kind) -> None:
    """Currencies and other columns of few values are coded and judged per pair of distinct
    values; that must say exactly what gathering and comparing every pair's text says."""
    spec = FieldSpec("f", kind)  # type: ignore[arg-type]
    canon = text_canon(spec) if kind == "text" else currency_canon
    source, destination = pd.Series(src, dtype="str"), pd.Series(dst, dtype="str")
    pairs = max(len(src), len(dst))
    src_rows = np.array([rnd.randrange(len(src)) for _ in range(pairs)], dtype=np.int64)
    dst_rows = np.array([rnd.randrange(len(dst)) for _ in range(pairs)], dtype=np.int64)
    coded = _coded_differs_after(canon, source, src_rows, destination, dst_rows)
    gathered = _arrow_differs_after(canon, source, src_rows, destination, dst_rows)
    assert coded.tolist() == gathered.tolist()
    assert field_differs(spec, source, src_rows, destination, dst_rows).tolist() == (
        gathered.tolist())


def test_a_record_renumbered_onto_a_key_that_compares_ok_is_named_across_chunks() -> None:
    """Order S1's invoice (the ledger's d0) now carries S2, whose order it matches: S2 is ok,
    so no chunk keeps that record; the chunked report looks it up by id and names it."""
    values = {"total": 1.0, "currency": "USD", "name": "a", "memo": "b", "txn_date": DAY,
              "voided": False, "lines": 1}
    source = pd.DataFrame([{"key": "S1", "version": 1, **values},
                           {"key": "S2", "version": 1, **values}])
    destination = pd.DataFrame([{"key": "S2", "destination_id": "d0", **values}])
    ledger = pd.DataFrame({"key": ["S1"], "source_version": [1], "destination_id": ["d0"]})
    window = _window(source, destination, ledger, Evidence())
    chunks = next(n for n in range(2, 50)
                  if len(set(key_chunks(["S1", "S2"], n).tolist())) == 2)
    whole = reconcile_window(window)
    split = reconcile_window(_in_chunks(window, chunks))
    assert whole.diagnosis["cause"].tolist() == [
        "invoice d0 now has DocNumber S2: renumbered in the destination"]
    assert len(split.frames.destination) == 0  # S2 is ok: none of its rows were kept
    assert split.diagnosis.equals(whole.diagnosis)


def test_a_reader_that_puts_a_key_in_the_wrong_chunk_is_refused() -> None:
    """An order read into one chunk and its invoice into another would be reported missing
    and extra; the chunk's discrepant keys are checked against the chunk function."""
    values = {"total": 1.0, "currency": "USD", "name": "a", "memo": "b", "txn_date": DAY,
              "voided": False, "lines": 1}
    key = next(f"S{n}" for n in range(1, 100) if key_chunks([f"S{n}"], 2)[0] == 1)
    source = pd.DataFrame([{"key": key, "version": 1, **values}])
    destination = pd.DataFrame([{"key": key, "destination_id": "d0", **values}])
    ledger = pd.DataFrame({"key": [key], "source_version": [1], "destination_id": ["d0"]})
    empty = [frame.iloc[:0] for frame in (source, destination, ledger)]
    sides = {0: (source, empty[1], empty[2]), 1: (empty[0], destination, ledger)}  # wrong
    chunked = WindowChunks(start=DAY, end=DAY + dt.timedelta(days=1), chunks=2,
                           read=lambda chunk: _window(*sides[chunk], Evidence()),
                           fields=tuple(FIELDS), labels=LABELS)
    with pytest.raises(ValueError, match=f"key '{key}' was read into chunk 0 of 2"):
        reconcile_window(chunked)
