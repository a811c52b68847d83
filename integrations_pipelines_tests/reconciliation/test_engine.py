"""Reconciliation on hand-built windows: every class with its exact keys, the comparison rules
(money tolerance, text normalisation, currencies, dates), and the diagnosis of each class."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from integrations_pipelines.reconciliation.diagnosis import Evidence, cause_counts, diagnose
from integrations_pipelines.reconciliation.engine import reconcile
from integrations_pipelines.reconciliation.fields import FieldSpec

FIELDS = [
    FieldSpec("total", "money"),
    FieldSpec("currency", "currency"),
    FieldSpec("customer", "text"),
    FieldSpec("txn_date", "date"),
    FieldSpec("voided", "bool"),
]
DAY = dt.date(2024, 5, 1)
T0 = pd.Timestamp("2024-05-01T10:00", tz="UTC")
T1 = pd.Timestamp("2024-05-01T12:00", tz="UTC")
NO_LEDGER = pd.DataFrame({"key": pd.Series([], dtype="int64"), "source_version": []})


def invoice(key: int, total: float = 10.0, **values: object) -> dict:
    row = {"key": key, "total": total, "currency": "USD", "customer": f"Customer {key}"}
    return row | {"txn_date": DAY, "voided": False} | values


@pytest.fixture
def window() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Keys 1-3 ok; 4 missing; 5 and 6 wrong values; 7 stale; 8 duplicated; 9 extra;
    10 a trivial source update (newer version, same values): ok."""
    source = pd.DataFrame(
        [invoice(k) | {"version": T0} for k in (1, 2, 3, 4, 6, 8)]
        + [
            invoice(5, customer="Zoë 🎉") | {"version": T0},
            invoice(7, total=12.5) | {"version": T1},
            invoice(10) | {"version": T1},
        ]
    )
    destination = pd.DataFrame(
        [invoice(k) | {"destination_id": f"q{k}"} for k in (1, 2, 3, 10)]
        + [
            invoice(5, customer="Zoë Smith") | {"destination_id": "q5"},
            invoice(6, total=10.01, voided=True) | {"destination_id": "q6"},
            invoice(7) | {"destination_id": "q7"},
            invoice(8) | {"destination_id": "q8"},
            invoice(8) | {"destination_id": "q8b"},
            invoice(9) | {"destination_id": "q9"},
        ]
    )
    ledger = pd.DataFrame(
        [{"key": k, "source_version": T0, "destination_id": f"q{k}"} for k in range(1, 11)]
    ).query("key != 4")
    return source, destination, ledger


def test_every_key_lands_in_exactly_one_class(window) -> None:
    result = reconcile(*window, FIELDS)

    assert result.counts == {
        "missing": 1,
        "extra": 1,
        "duplicate": 1,
        "stale": 1,
        "wrong_values": 2,
        "ok": 4,
    }
    assert {c: k.tolist() for c, k in result.keys_by_class.items()} == {
        "missing": [4],
        "extra": [9],
        "duplicate": [8],
        "stale": [7],
        "wrong_values": [5, 6],
    }
    assert result.differing_fields() == {5: ("customer",), 6: ("total", "voided"), 7: ("total",)}
    assert result.field_counts() == {
        "total": 2,
        "currency": 0,
        "customer": 1,
        "txn_date": 0,
        "voided": 1,
    }
    assert result.drift_rate == pytest.approx(6 / 9)


def test_duplicate_wins_over_every_other_class() -> None:
    source = pd.DataFrame([invoice(1) | {"version": 1}])
    destination = pd.DataFrame(
        [
            invoice(1, total=99.0) | {"destination_id": "a"},
            invoice(1) | {"destination_id": "b"},
            invoice(2) | {"destination_id": "c"},
            invoice(2) | {"destination_id": "d"},
        ]
    )
    ledger = pd.DataFrame({"key": [1], "source_version": [0]})

    result = reconcile(source, destination, ledger, FIELDS)

    assert result.keys("duplicate").tolist() == [1, 2]
    assert result.counts["stale"] == result.counts["extra"] == 0
    assert sorted(result.duplicate_rows.tolist()) == [0, 1, 2, 3]


def test_money_tolerance_is_in_minor_units() -> None:
    source = pd.DataFrame([invoice(1, 10.00), invoice(2, 10.00)]).assign(version=1)
    destination = pd.DataFrame([invoice(1, 10.01), invoice(2, 10.02)], dtype=object).assign(
        destination_id=["a", "b"]
    )
    ledger = pd.DataFrame({"key": [1, 2], "source_version": [1, 1]})

    exact = reconcile(source, destination, ledger, FIELDS)
    one_cent = reconcile(source, destination, ledger, FIELDS, money_tolerance=1)

    assert exact.keys("wrong_values").tolist() == [1, 2]
    assert one_cent.keys("wrong_values").tolist() == [2]
    assert one_cent.ok_count == 1


def test_money_in_decimals_cents_and_floats_compares_equal() -> None:
    spec = [FieldSpec("total", "money"), FieldSpec("cents", "money", scale=0)]
    source = pd.DataFrame({"key": [1, 2], "version": 1, "total": [0.29, 12.5], "cents": [29, 5]})
    destination = pd.DataFrame(
        {
            "key": [1, 2],
            "destination_id": ["a", "b"],
            "total": [Decimal("0.29"), Decimal("12.50")],
            "cents": [29.0, 5.0],
        }
    )
    result = reconcile(source, destination, NO_LEDGER, spec)
    assert result.ok_count == 2


def test_text_compares_after_the_mappings_normalisation() -> None:
    spec = [FieldSpec("customer", "text"), FieldSpec("memo", "text", max_len=8)]
    source = pd.DataFrame(
        {
            "key": [1, 2, 3, 4, 5],
            "version": 1,
            "customer": ["Zoë 🎉 Smith", "O'Brien  \t Ltd", None, "Ann", "Ann"],
            "memo": ["a very long memo", "x", "", "y", "y"],
        }
    )
    destination = pd.DataFrame(
        {
            "key": [1, 2, 3, 4, 5],
            "destination_id": list("abcde"),
            # NFD spelling and the emoji QuickBooks dropped; folded white space; null vs "".
            "customer": ["Zoe\u0308 Smith", "O'Brien Ltd", "", "ann", "Anne"],
            "memo": ["a very…", "x", None, "y", "y"],
        }
    )
    result = reconcile(source, destination, NO_LEDGER, spec)

    assert result.ok_count == 3
    assert result.keys("wrong_values").tolist() == [4, 5]


def test_currencies_dates_and_flags() -> None:
    source = pd.DataFrame(
        [
            invoice(1, currency="usd", txn_date=DAY),
            invoice(2, currency="EUR", txn_date="2024-05-01"),
            invoice(3, txn_date=pd.Timestamp("2024-05-01T23:30", tz="America/New_York")),
            invoice(4, voided=None),
            invoice(5, currency="US"),
        ]
    ).assign(version=1)
    destination = pd.DataFrame(
        [
            invoice(1, currency="USD", txn_date=DAY),
            invoice(2, currency="eur", txn_date=DAY),
            invoice(3, txn_date=DAY),
            invoice(4, voided=False),
            invoice(5),
        ]
    ).assign(destination_id=list("abcde"))
    result = reconcile(source, destination, NO_LEDGER, FIELDS)

    assert result.differing_fields() == {4: ("voided",), 5: ("currency",)}


def test_stale_needs_an_older_ledger_version_and_different_values(window) -> None:
    source, destination, ledger = window
    no_ledger = reconcile(source, destination, ledger.query("key != 7"), FIELDS)
    current = reconcile(source, destination, ledger.assign(source_version=T1), FIELDS)

    assert no_ledger.keys("wrong_values").tolist() == [5, 6, 7]
    assert current.keys("stale").tolist() == []
    assert reconcile(*window, FIELDS).keys("stale").tolist() == [7]


def test_a_repeated_source_key_keeps_its_latest_version() -> None:
    source = pd.DataFrame(
        [
            invoice(1, 5.0) | {"version": 2},
            invoice(1, 7.0) | {"version": 3},
            invoice(1, 6.0) | {"version": 1},
        ]
    )
    destination = pd.DataFrame([invoice(1, 7.0) | {"destination_id": "a"}])
    result = reconcile(source, destination, NO_LEDGER, FIELDS)
    assert (result.source_records, result.ok_count) == (1, 1)


def test_text_keys_work_like_integer_keys(window) -> None:
    source, destination, ledger = (f.assign(key=f["key"].map(lambda k: f"S{k}")) for f in window)
    result = reconcile(source, destination, ledger, FIELDS)
    assert result.keys("wrong_values").tolist() == ["S5", "S6"]
    assert result.keys("missing").tolist() == ["S4"]


def test_inputs_that_would_give_a_wrong_answer_are_refused(window) -> None:
    source, destination, ledger = window
    with pytest.raises(ValueError, match="one type"):
        reconcile(source, destination, ledger.assign(key=ledger["key"].astype(str)), FIELDS)
    with pytest.raises(ValueError, match="more than once"):
        reconcile(source, destination, pd.concat([ledger, ledger]), FIELDS)
    with pytest.raises(ValueError, match="missing columns"):
        reconcile(source.drop(columns="voided"), destination, ledger, FIELDS)
    with pytest.raises(ValueError, match="null keys"):
        reconcile(source.assign(key=np.nan), destination, ledger, FIELDS)
    with pytest.raises(ValueError, match="unknown kind"):
        FieldSpec("x", "float")  # type: ignore[arg-type]


def test_empty_window_has_no_drift() -> None:
    empty = pd.DataFrame([invoice(1)]).iloc[:0]
    result = (
        reconcile(empty.assign(version=1), empty.assign(destination_id="a"), empty[["key"]], [])
        if False
        else reconcile(
            empty.assign(version=1),
            empty.assign(destination_id="a"),
            pd.DataFrame({"key": pd.Series([], dtype="int64"), "source_version": []}),
            FIELDS,
        )
    )
    assert result.counts == dict.fromkeys(
        ["missing", "extra", "duplicate", "stale", "wrong_values", "ok"], 0
    )
    assert result.drift_rate == 0.0
    assert diagnose(result).empty


def test_causes_from_the_evidence(window) -> None:
    source, destination, ledger = window
    source = pd.concat(
        [source, pd.DataFrame([invoice(k) | {"version": T0} for k in (11, 12, 13)])],
        ignore_index=True,
    )
    ledger = pd.concat(
        [ledger, pd.DataFrame([{"key": 13, "source_version": T0, "destination_id": "q13"}])]
    )
    evidence = Evidence(
        dead_letters=pd.DataFrame({"key": ["11"], "reason_code": ["discount_exceeds_total"]}),
        http_failures=pd.DataFrame({"status": [429, 429, 500]}),
        tags=pd.DataFrame({"key": [5, 6], "tags": ["vip, edge:astral_chars", "wholesale"]}),
    )
    result = reconcile(source, destination, ledger, FIELDS)

    causes = diagnose(result, evidence).set_index("key")["cause"].to_dict()

    assert causes == {
        4: "rate limited during the sync",
        13: "synced as q13 but gone from the destination: deleted by hand",
        11: "dead-lettered: discount_exceeds_total",
        12: "rate limited during the sync",
        9: "no source record: created by hand in the destination, or the source record was deleted",
        8: "retried create without idempotency (ledger id q8, extra ids q8b)",
        7: f"an update after {T0} never synced",
        5: "edge case: edge:astral_chars (text normalisation: emoji and 4-byte characters are "
        "removed)",
        6: "values differ although the last sync was current: edited in the destination after "
        "the sync, or the mapping changed",
    }


def test_missing_causes_in_order_of_evidence() -> None:
    source = pd.DataFrame([invoice(1) | {"version": 1}])
    destination = pd.DataFrame([invoice(2) | {"destination_id": "x"}]).iloc[:0]
    result = reconcile(source, destination, NO_LEDGER, FIELDS)

    def cause(**evidence: pd.DataFrame) -> str:
        return diagnose(result, Evidence(**evidence))["cause"].iloc[0]

    assert cause().startswith("never synced")
    assert cause(http_failures=pd.DataFrame({"status": [429]})) == "rate limited during the sync"
    auth = pd.DataFrame({"status": [429, 401]})
    assert cause(http_failures=auth) == "authentication failed during the sync"


def test_duplicate_without_the_ledgers_record_was_made_outside_the_sync() -> None:
    source = pd.DataFrame([invoice(1) | {"version": 1}])
    destination = pd.DataFrame([invoice(1) | {"destination_id": i} for i in ("a", "b")])
    ledger = pd.DataFrame({"key": [1], "source_version": [1], "destination_id": ["z"]})
    result = reconcile(source, destination, ledger, FIELDS)
    diagnosis = diagnose(result)
    assert diagnosis["cause"].tolist() == ["duplicate created outside the sync"]
    assert cause_counts(diagnosis).to_dict("records") == [
        {"class": "duplicate", "cause_code": "created_outside_sync", "keys": 1}
    ]


def test_examples_show_values_side_by_side_as_markdown(window) -> None:
    result = reconcile(*window, FIELDS)
    causes = diagnose(result).set_index("key")["cause"]

    examples = result.examples(n=4, causes=causes)
    markdown = result.examples_markdown(n=10)

    assert examples["class"].tolist() == ["missing", "extra", "duplicate", "stale"]
    stale = examples.iloc[3]
    assert (stale["fields"], stale["source"], stale["destination"]) == (
        "total",
        "total=12.5",
        "total=10.0",
    )
    assert examples.iloc[2]["destination"] == "2 records: ids q8, q8b"
    assert markdown.splitlines()[0] == "| key | class | fields | source | destination |"
    assert len(markdown.splitlines()) == 2 + 6
    assert "customer='Zoë 🎉'" in markdown


def test_keys_spanning_the_whole_integer_range() -> None:
    keys = [-(2**62), 7, 2**62, 2**63 - 1]
    source = pd.DataFrame([invoice(k) | {"version": 1} for k in keys[:3]])
    destination = pd.DataFrame([invoice(k) | {"destination_id": str(k)} for k in keys[1:]])
    result = reconcile(source, destination, NO_LEDGER, FIELDS)
    assert result.keys("missing").tolist() == [-(2**62)]
    assert result.keys("extra").tolist() == [2**63 - 1]
    assert result.ok_count == 2
