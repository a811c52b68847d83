"""Benchmark: the Shopify -> QuickBooks reconciliation against datacompy, on production's path.

What is measured is what the nightly check runs on a window, from the readers' row shapes on:
seeded Shopify order payloads (the REST shape, one line item) are validated into `Order`
models and turned into the source frame by the reader's own `source_frame`; QuickBooks
invoice payloads (the read-back's shape) go through `destination_frame`; ledger rows (the
`sync_ledger` columns) through `frames.ledger_frame`. The frames are then cut into the
window's key-hash chunks (about `state.key_chunks.CHUNK_KEYS` keys each) by the chunk
function the reader's SQL computes, and `window.reconcile_window` runs on them as
`frames.WindowChunks`, exactly as on the reader's: each chunk assembled by
`frames.window_frames`, compared, its discrepancies kept, then merged and diagnosed. Keys are
what production uses: the DocNumber text `S<order number>` on every side. Not measured:
PostgreSQL (the raw store's and the ledger's reads, here Parquet files per chunk, timed
apart) and JSON decoding; payloads are generated in process, a chunk at a time, in random row
order on both sides. Peak memory: a 5 ms RSS sampler and VmHWM (reset before each run) in
the reconciling process, which holds no frame before its runs.

Planted (shares of the source records): 1% missing, 0.5% extra, 1% wrong values (total, tax,
currency, customer or voided state), 0.5% stale (an update after the ledger's version that
never synced), 0.2% duplicated invoices, plus 0.5% newer source versions with unchanged
facts and 0.1% invoices whose currency QuickBooks spells in lower case, which must count ok.
1% of the orders are cancelled (their invoices voided).

datacompy runs on the same frames in the same run (written as Parquet after the build): the
key and the five compared facts of each side. datacompy 1.1 needs pandas < 3.1 (beside
pandas 3.1 pip silently picks datacompy 0.7.3), so it runs in a virtualenv of its own,
created once under benchmarks/.venv-datacompy (with pyarrow, so its pandas holds the same
Arrow strings). `--no-datacompy` skips it (10M a side would need tens of GB for it).

    .venv/bin/python benchmarks/reconcile_benchmark.py --records 1000000 --repeat 3 \
        --rounds 3 --frames "$HOME/reconcile-frames"

The figures and their commands are in benchmarks/README.md. Benchmarks measure; they never
run in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATACOMPY_VENV = HERE / ".venv-datacompy"
DATACOMPY_REQUIREMENTS = ["datacompy==1.1.*", "pandas<3.1", "pyarrow"]
COMPARED = ("currency", "total", "tax", "customer_tag", "voided")
SHARES = {  # exclusive per source record, in this order
    "missing": 0.01,
    "wrong_values": 0.01,
    "stale": 0.005,
    "duplicate": 0.002,
    "trivial_update": 0.005,
    "lower_case_currency": 0.001,
}
EXTRA_SHARE = 0.005
CANCELLED_SHARE = 0.01
CLASSES = ("missing", "extra", "duplicate", "stale", "wrong_values")
CURRENCIES = ("USD", "EUR", "GBP", "CAD")
TARGET_SPEEDUP = 10.0
TARGET_PEAK_MB = 500.0
DAY = datetime(2026, 11, 9, tzinfo=UTC)
CHUNK = 50_000
FIRST_NUMBER = 1001
ORDER_ID_BASE = 6_100_000_000_000
CUSTOMER_ID_BASE = 7_200_000_000_000


# --- the data set: every fact of record i is a hash of (seed, i), so any chunk of records ---
# --- can be generated on its own, in any order ------------------------------------------------


def _mix(i: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """splitmix64 of (seed, salt, i): independent uniform 64-bit words per record."""
    with np.errstate(over="ignore"):
        z = i.astype(np.uint64) + np.uint64((seed * 1_000_003 + salt) * 0x9E3779B97F4A7C15
                                            % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _uniform(i: np.ndarray, seed: int, salt: int) -> np.ndarray:
    return (_mix(i, seed, salt) >> np.uint64(11)).astype(np.float64) / 2.0**53


class Facts(NamedTuple):
    """Per record (vectorised over a chunk of record numbers)."""

    plan: np.ndarray  # index into PLAN_NAMES
    which: np.ndarray  # the wrong field (0..4) of a wrong_values record
    cents: np.ndarray
    tax_cents: np.ndarray
    currency: np.ndarray
    customer: np.ndarray
    seconds: np.ndarray
    cancelled: np.ndarray


PLAN_NAMES = (*SHARES, "ok")


def facts(i: np.ndarray, seed: int, n: int) -> Facts:
    u = _uniform(i, seed, 1)
    plan = np.searchsorted(np.cumsum(list(SHARES.values())), u, side="right")
    cents = 100 + (_mix(i, seed, 2) % np.uint64(500_000)).astype(np.int64)
    return Facts(
        plan=plan,
        which=(_mix(i, seed, 3) % np.uint64(5)).astype(np.int64),
        cents=cents,
        tax_cents=cents * 8 // 108,
        currency=(_mix(i, seed, 4) % np.uint64(len(CURRENCIES))).astype(np.int64),
        customer=CUSTOMER_ID_BASE + (_mix(i, seed, 5) % np.uint64(n // 3 + 1)).astype(np.int64),
        seconds=(_mix(i, seed, 6) % np.uint64(80_000)).astype(np.int64),
        # only records whose facts are not planted to differ are cancelled (a voided invoice
        # keeps zeros, which would hide a planted difference in the amounts)
        cancelled=(_uniform(i, seed, 7) < CANCELLED_SHARE)
        & np.isin(plan, [PLAN_NAMES.index("ok"), PLAN_NAMES.index("missing")]),
    )


def _money(amount: str, currency: str) -> dict[str, Any]:
    return {"shop_money": {"amount": amount, "currency_code": "USD"},
            "presentment_money": {"amount": amount, "currency_code": currency}}


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def order_payloads(order: np.ndarray, seed: int, n: int) -> Iterator[dict[str, Any]]:
    """Shopify's order payloads for record numbers `order` (in that order)."""
    plan_of = {name: k for k, name in enumerate(PLAN_NAMES)}
    for start in range(0, len(order), CHUNK):
        i = order[start:start + CHUNK]
        f = facts(i, seed, n)
        bumped = (f.plan == plan_of["stale"]) | (f.plan == plan_of["trivial_update"])
        cents = f.cents + np.where(f.plan == plan_of["stale"], 100, 0)
        for k, record in enumerate(i.tolist()):
            number = FIRST_NUMBER + record
            currency = CURRENCIES[f.currency[k]]
            created = DAY + timedelta(seconds=int(f.seconds[k]))
            updated = created + timedelta(minutes=5, hours=1 if bumped[k] else 0)
            total, tax = f"{cents[k] / 100:.2f}", f"{f.tax_cents[k] / 100:.2f}"
            subtotal = f"{(cents[k] - f.tax_cents[k]) / 100:.2f}"
            yield {
                "id": ORDER_ID_BASE + record * 7, "name": f"#{number}", "order_number": number,
                "email": f"buyer{record}@example.com", "created_at": _iso(created),
                "updated_at": _iso(updated),
                "cancelled_at": _iso(updated) if f.cancelled[k] else None,
                "financial_status": "paid", "currency": "USD",
                "presentment_currency": currency, "total_price": total,
                "subtotal_price": subtotal, "total_tax": tax, "total_discounts": "0.00",
                "total_price_set": _money(total, currency),
                "subtotal_price_set": _money(subtotal, currency),
                "total_tax_set": _money(tax, currency),
                "total_discounts_set": _money("0.00", currency),
                "current_total_price_set": _money(total, currency),
                "current_total_tax_set": _money(tax, currency),
                "line_items": [{"id": 9_000_000 + record, "title": "Linen shirt", "quantity": 1,
                                "price": subtotal, "price_set": _money(subtotal, currency)}],
                "customer": {"id": int(f.customer[k]), "first_name": "Ann",
                             "last_name": f"Buyer {record % 997}"},
            }


def invoice_payloads(rows: np.ndarray, seed: int, n: int) -> Iterator[dict[str, Any]]:
    """QuickBooks' invoices: row r < n is record r's invoice, n <= r < 2n a second (live)
    invoice of record r - n (a duplicate), r >= 2n an extra invoice made by hand."""
    plan_of = {name: k for k, name in enumerate(PLAN_NAMES)}
    wrong = plan_of["wrong_values"]
    for start in range(0, len(rows), CHUNK):
        r = rows[start:start + CHUNK]
        record = np.where(r < 2 * n, r % n, 0)
        f = facts(record, seed, n)
        for k, row in enumerate(r.tolist()):
            if row >= 2 * n:
                extra = row - 2 * n
                yield {"Id": str(3 * n + extra + 1), "DocNumber": f"S{FIRST_NUMBER + n + extra}",
                       "SyncToken": "0", "CurrencyRef": {"value": "USD"}, "TotalAmt": 20.0,
                       "TxnTaxDetail": {"TotalTax": 0}, "CustomerRef": {
                           "value": "1", "name": "Walk-in customer [shopify:guest:USD]"}}
                continue
            rec = int(record[k])
            plan, which = f.plan[k], f.which[k] if f.plan[k] == wrong else -1
            copy = row >= n
            voided = bool(f.cancelled[k]) != (which == 4) and not copy
            cents = 0 if voided else int(f.cents[k]) + (1 if which == 0 else 0)
            tax = 0 if voided else int(f.tax_cents[k]) + (1 if which == 1 else 0)
            currency = CURRENCIES[f.currency[k]]
            currency = "JPY" if which == 2 else (
                currency.lower() if plan == plan_of["lower_case_currency"] else currency)
            customer = int(f.customer[k]) + (1 if which == 3 else 0)
            tag = f"[shopify:{customer}:{CURRENCIES[f.currency[k]]}]"
            marker = f"shopify:order:{ORDER_ID_BASE + rec * 7} #{FIRST_NUMBER + rec}"
            yield {
                "Id": str(row + 1), "DocNumber": f"S{FIRST_NUMBER + rec}",
                "SyncToken": "1" if copy else "0",
                "PrivateNote": f"Voided - {marker}" if voided else marker,
                "CurrencyRef": {"value": currency}, "TotalAmt": cents / 100,
                "TxnTaxDetail": {"TotalTax": tax / 100},
                "CustomerRef": {"value": str(customer % 100_000),
                                "name": f"Ann Buyer {rec % 997} {tag}"},
            }


class LedgerRow(NamedTuple):
    """A `sync_ledger` row as the reader selects it."""

    destination_key: str
    source_id: str
    source_version: datetime
    destination_id: str
    status: str
    synced_at: datetime


def ledger_rows(synced: np.ndarray, seed: int, n: int) -> Iterator[LedgerRow]:
    """The ledger of the synced records: the version last written (before any later update)
    and the first invoice created."""
    for start in range(0, len(synced), CHUNK):
        i = synced[start:start + CHUNK]
        f = facts(i, seed, n)
        for k, record in enumerate(i.tolist()):
            written = DAY + timedelta(seconds=int(f.seconds[k]), minutes=5)
            yield LedgerRow(f"S{FIRST_NUMBER + record}", str(ORDER_ID_BASE + record * 7),
                            written, str(record + 1), "synced",
                            written + timedelta(minutes=1))


def planted(n: int, seed: int) -> dict[str, int]:
    plans = np.concatenate([facts(np.arange(s, min(n, s + CHUNK)), seed, n).plan
                            for s in range(0, n, CHUNK)]) if n else np.zeros(0, np.int64)
    counts = {name: int((plans == k).sum()) for k, name in enumerate(PLAN_NAMES)}
    counts["extra"] = round(EXTRA_SHARE * n)
    counts["ok"] += counts["trivial_update"] + counts["lower_case_currency"]
    return counts


def layout(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The source's row order, the destination's rows (shuffled) and the ledger's records."""
    rng = np.random.default_rng(seed)
    plans = np.concatenate([facts(np.arange(s, min(n, s + CHUNK)), seed, n).plan
                            for s in range(0, n, CHUNK)]) if n else np.zeros(0, np.int64)
    missing = plans == PLAN_NAMES.index("missing")
    duplicate = np.flatnonzero(plans == PLAN_NAMES.index("duplicate"))
    present = np.flatnonzero(~missing)
    extra = 2 * n + np.arange(round(EXTRA_SHARE * n), dtype=np.int64)
    rows = np.concatenate([present, n + duplicate, extra])
    return rng.permutation(n), rows[rng.permutation(len(rows))], present


# --- the contenders (each in its own child process) ------------------------------------------


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RssSampler:
    """The highest RSS of this process seen by a thread reading /proc/self/statm every
    `every` seconds while the block runs (a second measure beside VmHWM)."""

    def __init__(self, every: float = 0.005) -> None:
        import threading

        self.every, self.peak_mb = every, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import os

        page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        statm = Path("/proc/self/statm")
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, int(statm.read_text().split()[1]) * page_mb)
            self._stop.wait(self.every)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _reset_peak() -> None:
    """Make VmHWM restart from the current RSS, so one phase's own peak shows."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _timed(run, repeat: int) -> tuple[object, list[float], float]:
    """Run `run()` `repeat` times: its last result, each wall time, and the highest RSS seen
    during any run (VmHWM reset before each)."""
    seconds, peak, result = [], 0.0, None
    for _ in range(repeat):
        result = None
        _reset_peak()
        started = time.perf_counter()
        result = run()
        seconds.append(time.perf_counter() - started)
        peak = max(peak, _rss_mb("VmHWM"))
    return result, seconds, peak


def built_frames(cache: Path | None, n: int, seed: int):
    """The window's source, destination and ledger frames through the readers' builders,
    with the build's seconds and peak MB; kept as Parquet in `cache` (when given) and read
    from there next time, as the build validates every order (minutes at 1M)."""
    import pandas as pd

    from integrations_pipelines.catalog import load_catalog
    from integrations_pipelines.reconciliation import frames
    from integrations_pipelines.reconciliation.shopify_to_quickbooks import (
        destination_frame,
        source_frame,
    )
    from integrations_pipelines.vendors.shopify.models import Order

    names = ("source", "destination", "ledger")
    stem = f"frames-{n}-{seed}"
    if cache is not None and (cache / f"{stem}.json").exists():
        meta = json.loads((cache / f"{stem}.json").read_text())
        loaded = [pd.read_parquet(cache / f"{stem}-{name}.parquet") for name in names]
        return (*loaded, meta | {"cached": True})
    entry = load_catalog()["shopify_to_quickbooks"]

    def build():
        source_order, destination_rows, synced = layout(n, seed)
        source = source_frame(
            (Order.model_validate(p) for p in order_payloads(source_order, seed, n)), entry)
        ledger = frames.ledger_frame(ledger_rows(synced, seed, n))
        destination = destination_frame(invoice_payloads(destination_rows, seed, n), ledger)
        return source, destination, ledger

    (source, destination, ledger), seconds, peak = _timed(build, 1)
    meta = {"build_seconds": seconds[0], "build_peak_mb": peak, "cached": False}
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        for name, frame in zip(names, (source, destination, ledger), strict=True):
            frame.to_parquet(cache / f"{stem}-{name}.parquet")
        (cache / f"{stem}.json").write_text(json.dumps(meta))
    return source, destination, ledger, meta


NAMES = ("source", "destination", "ledger")


def split_frames(cache: Path, n: int, seed: int, chunks: int, datacompy_folder: Path) -> dict:
    """The built frames cut into the window's key-hash chunks, a Parquet file per side and
    chunk, by the chunk function the reader's SQL uses (`state.key_chunks`): what the
    reconciliation reads one chunk at a time. Also the whole frames' compared columns for
    datacompy. Done once per chunk count (in the driver, which is not measured)."""
    import pandas as pd

    from integrations_pipelines.state.key_chunks import key_chunks

    folder = cache / f"frames-{n}-{seed}-chunks{chunks}"
    meta_file = folder / "meta.json"
    built = None
    if not meta_file.exists():
        *built, meta = built_frames(cache, n, seed)
        folder.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        for name, frame in zip(NAMES, built, strict=True):
            chunk_of = key_chunks(frame["key"], chunks)
            for chunk in range(chunks):
                frame.loc[chunk_of == chunk].reset_index(drop=True).to_parquet(
                    folder / f"{name}-{chunk}.parquet")
        meta |= {"split_seconds": time.perf_counter() - started,
                 "frame_rows": {k: len(f) for k, f in zip(NAMES, built, strict=True)},
                 "frames_mb": {k: float(f.memory_usage(deep=True).sum()) / 2**20
                               for k, f in zip(NAMES, built, strict=True)},
                 "dtypes": {c: str(built[0][c].dtype) for c in ("key", *COMPARED)}}
        meta_file.write_text(json.dumps(meta))
    for name, position in (("source", 0), ("destination", 1)):
        if built is None:
            built = [pd.read_parquet(cache / f"frames-{n}-{seed}-{k}.parquet",
                                     columns=["key", *COMPARED]) for k in NAMES[:2]]
        built[position][["key", *COMPARED]].to_parquet(datacompy_folder / f"{name}.parquet")
    return json.loads(meta_file.read_text()) | {"folder": str(folder)}


def child_ours(folder: Path, repeat: int, chunks: int) -> dict:
    """The whole check, `window.reconcile_window`, on the window as `WindowChunks`: each
    chunk's three frames read from Parquet and assembled by `frames.window_frames` (what the
    reader's `frames.load_window` returns per chunk after its SQL reads), compared, its
    discrepancies kept; then the diagnosis. Seconds exclude the Parquet reads (reported
    apart), as datacompy's exclude reading its frames."""
    sys.path.insert(0, str(ROOT))
    import pandas as pd
    import pyarrow as pa

    from integrations_pipelines.reconciliation import frames
    from integrations_pipelines.reconciliation.chunked import reconcile_chunks
    from integrations_pipelines.reconciliation.shopify_to_quickbooks import INVOICE_FIELDS, LABELS
    from integrations_pipelines.reconciliation.window import (
        WindowReconciliation,
        reconcile_window,
    )

    start_mb = _rss_mb("VmRSS")
    letters = pd.DataFrame({"key": pd.Series([], dtype="str"),
                            "reason_code": pd.Series([], dtype="str")})
    failures = pd.DataFrame({"status": pd.array([429], dtype="Int64")})
    reading = [0.0]

    def read(chunk: int) -> frames.WindowFrames:
        started = time.perf_counter()
        source, destination, ledger = (pd.read_parquet(folder / f"{name}-{chunk}.parquet")
                                       for name in NAMES)
        reading[0] += time.perf_counter() - started
        return frames.window_frames(DAY.date(), DAY.date() + timedelta(days=1), source,
                                    destination, ledger, letters, failures, INVOICE_FIELDS,
                                    LABELS)

    window = frames.WindowChunks(start=DAY.date(), end=DAY.date() + timedelta(days=1),
                                 chunks=chunks, read=read, fields=INVOICE_FIELDS, labels=LABELS)
    seconds, classes, reads, peak, sampled, report = [], [], [], 0.0, 0.0, None
    kinds = [(lambda: reconcile_chunks(window), classes),
             (lambda: reconcile_window(window), seconds)]
    for turn in range(repeat):  # each kind first in turn (the first run of a process is slower)
        for timed, runs in kinds if turn % 2 == 0 else kinds[::-1]:
            reading[0] = 0.0
            _reset_peak()
            with RssSampler() as sampler:
                started = time.perf_counter()
                done = timed()
                elapsed = time.perf_counter() - started
            runs.append(elapsed - reading[0])
            reads.append(reading[0])
            peak = max(peak, _rss_mb("VmHWM"))
            sampled = max(sampled, sampler.peak_mb)
            if runs is seconds:
                report = done
            del done
    assert isinstance(report, WindowReconciliation)
    return {
        "versions": {"pandas": pd.__version__, "numpy": np.__version__,
                     "pyarrow": pa.__version__},
        "chunks": report.chunks,
        "start_mb": start_mb,
        "seconds": seconds,
        "classes_seconds": classes,
        "read_seconds": reads,
        "baseline_mb": start_mb,
        "compare_peak_mb": peak,
        "sampled_peak_mb": sampled,
        "counts": report.counts,
        "kept_rows": {"source": len(report.frames.source),
                      "destination": len(report.frames.destination),
                      "ledger": len(report.frames.ledger)},
        "causes": report.diagnosis.groupby("cause_code").size().to_dict(),
        "examples": report.examples_markdown(5),
    }


def child_datacompy(folder: Path, repeat: int) -> dict:
    import datacompy
    import pandas as pd

    df1 = pd.read_parquet(folder / "source.parquet")
    df2 = pd.read_parquet(folder / "destination.parquet")
    dtypes = {c: str(df1[c].dtype) for c in df1.columns}
    baseline = _rss_mb("VmRSS")

    def run() -> dict[str, int]:
        # datacompy rewrites the join column of the frames it is given: one fresh pair a run
        # would cost memory, so each run gets shallow copies (its writes replace columns).
        compare = datacompy.PandasCompare(
            df1.copy(deep=False), df2.copy(deep=False), join_columns="key", abs_tol=0, rel_tol=0
        )
        matching = int(compare.count_matching_rows())
        return {
            "missing": len(compare.df1_unq_rows),
            "extra": len(compare.df2_unq_rows),
            "mismatch": len(compare.intersect_rows) - matching,
            "ok": matching,
        }

    counts, seconds, peak = _timed(run, repeat)
    return {
        "versions": {"datacompy": datacompy.__version__, "pandas": pd.__version__,
                     "numpy": np.__version__},
        "dtypes": dtypes,
        "seconds": seconds,
        "baseline_mb": baseline,
        "compare_peak_mb": peak,
        "counts": counts,
    }


# --- the driver ------------------------------------------------------------------------------


def ensure_datacompy_venv(rebuild: bool) -> Path:
    """The datacompy side's own virtualenv, created on first use and then reused."""
    python = DATACOMPY_VENV / "bin" / "python"
    if python.exists() and not rebuild:
        return python
    print(f"creating {DATACOMPY_VENV} with {' '.join(DATACOMPY_REQUIREMENTS)} ...", flush=True)
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--clear", str(DATACOMPY_VENV)], check=True)
    (DATACOMPY_VENV / ".gitignore").write_text("*\n")  # as Python 3.13's venv does
    subprocess.run([str(python), "-m", "pip", "install", "-q", *DATACOMPY_REQUIREMENTS], check=True)
    return python


def run_child(python: Path, args: list[str]) -> dict:
    """Run one contender in a fresh process; its peak RSS is the process's ru_maxrss."""
    done = subprocess.run([str(python), str(Path(__file__).resolve()), *args], check=True,
                          capture_output=True, text=True)
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["process_peak_mb"] = report["self_peak_mb"]
    if "seconds" in report:
        report["median_seconds"] = statistics.median(report["seconds"])
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each compare")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the contenders alternately this many times (noisy machines)")
    parser.add_argument("--no-datacompy", action="store_true")
    parser.add_argument("--frames", type=Path,
                        help="keep the built frames (and their chunks) here as Parquet and "
                             "reuse them (the build validates every order: minutes at 1M)")
    parser.add_argument("--chunk-keys", type=int, default=None,
                        help="keys per chunk (default: the reader's, state.key_chunks."
                             "CHUNK_KEYS); the number of records or more compares one chunk")
    parser.add_argument("--build-only", action="store_true",
                        help="build the frames into --frames and stop")
    parser.add_argument("--rebuild-venv", action="store_true")
    parser.add_argument("--child", choices=["split", "ours", "datacompy"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--chunks", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--into", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "split":
            sys.path.insert(0, str(ROOT))
            report = split_frames(args.frames, args.records, args.seed, args.chunks, args.into)
        elif args.child == "ours":
            report = child_ours(args.data, args.repeat, args.chunks)
        else:
            report = child_datacompy(args.data, args.repeat)
        report["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(report, default=str))
        return

    sys.path.insert(0, str(ROOT))
    if args.build_only:
        *_, meta = built_frames(args.frames, args.records, args.seed)
        print(json.dumps(meta))
        return
    from integrations_pipelines.state.key_chunks import CHUNK_KEYS, chunk_count

    datacompy_python = None if args.no_datacompy else ensure_datacompy_venv(args.rebuild_venv)
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        # the window's size as the reader counts it: the larger side (the orders here)
        chunks = chunk_count(args.records, args.chunk_keys or CHUNK_KEYS)
        # in a process of its own: a child forked from a parent holding the frames would
        # count the parent's RSS in its own ru_maxrss
        meta = run_child(Path(sys.executable), [
            "--child", "split", "--frames", str((args.frames or Path(tmp)).resolve()),
            "--records", str(args.records), "--seed", str(args.seed), "--chunks", str(chunks),
            "--into", tmp, "--repeat", "1"])
        mine = ["--data", meta["folder"], "--repeat", str(args.repeat), "--chunks", str(chunks)]
        theirs_args = ["--data", tmp, "--repeat", str(args.repeat)]
        ours = theirs = None
        for _ in range(args.rounds):  # alternated, so a change in the machine's load hits both
            ours = _merged(ours, run_child(Path(sys.executable), ["--child", "ours", *mine]))
            if datacompy_python is not None:
                theirs = _merged(theirs, run_child(datacompy_python,
                                                   ["--child", "datacompy", *theirs_args]))
    assert ours is not None
    print_report(args, planted(args.records, args.seed), ours | meta, theirs)


def _merged(before: dict | None, report: dict) -> dict:
    """One contender's rounds as one report: every timed run, the highest peaks."""
    if before is None:
        return report
    for runs in ("seconds", "classes_seconds", "read_seconds"):
        if runs in report:
            report[runs] = before[runs] + report[runs]
    report["median_seconds"] = statistics.median(report["seconds"])
    for peak in ("compare_peak_mb", "sampled_peak_mb", "process_peak_mb", "baseline_mb"):
        if peak in report:
            report[peak] = max(report[peak], before[peak])
    return report


def print_report(args: argparse.Namespace, truth: dict[str, int], ours: dict,
                 theirs: dict | None) -> None:
    rows = ours["frame_rows"]
    print(f"data: {args.records:,} orders, {rows['destination']:,} invoices, {rows['ledger']:,}"
          f" ledger rows (seed {args.seed}), keyed by DocNumber text on every side")
    ov = ours["versions"]
    print(f"ours:      integrations_pipelines.reconciliation, pandas {ov['pandas']}, "
          f"numpy {ov['numpy']}, pyarrow {ov['pyarrow']}; source dtypes {ours['dtypes']}")
    if theirs is not None:
        tv = theirs["versions"]
        print(f"datacompy: datacompy {tv['datacompy']}, pandas {tv['pandas']}, numpy "
              f"{tv['numpy']}; dtypes {theirs['dtypes']}")
        if not tv["datacompy"].startswith("1.1"):
            print("WARNING: not datacompy 1.1; rerun with --rebuild-venv")
    print("both sides' rows in random order")
    print()
    print(f"build: the readers' frame builders took {ours['build_seconds']:.1f} s (payloads "
          f"generated and validated into Order models included), peak {ours['build_peak_mb']:.0f}"
          f" MB{'; built by an earlier run, read from Parquet' if ours['cached'] else ''}; "
          "the whole frames: " + ", ".join(f"{k} {v:.0f} MB"
                                           for k, v in ours["frames_mb"].items()))
    print(f"ours reads the window in {ours['chunks']} key-hash chunks (Parquet per side and "
          f"chunk, split by state.key_chunks as the reader's SQL does), keeps "
          + ", ".join(f"{v:,} {k}" for k, v in ours["kept_rows"].items())
          + " rows of the discrepancies")
    print()
    print(f"{'':16}{'median s':>9}  {'runs s':<50}{'start MB':>9}{'peak MB':>9}")
    ours_classes = ours | {"seconds": ours["classes_seconds"],
                           "median_seconds": statistics.median(ours["classes_seconds"])}
    contenders = [("ours, classes", ours_classes), ("ours, check", ours)] + (
        [("datacompy", theirs)] if theirs else [])
    for name, r in contenders:
        runs = " ".join(f"{x:.2f}" for x in r["seconds"])
        print(f"{name:16}{r['median_seconds']:>9.3f}  {runs:<50}{r['baseline_mb']:>9.0f}"
              f"{r['compare_peak_mb']:>9.0f}")
    print("ours, classes: every chunk read, compared and its discrepancies kept, then merged "
          "(chunked.reconcile_chunks: what datacompy's counts answer); ours, check: the whole "
          "check (window.reconcile_window: the same, then the cause of every discrepancy); "
          "both without reading the chunks' Parquet (median "
          f"{statistics.median(ours['read_seconds']):.3f} s a run more); datacompy: "
          "PandasCompare and its counts on frames already read. start MB: the process's RSS "
          "before the runs (ours: imports only; datacompy: its frames read); peak MB: the "
          "highest RSS during a run (VmHWM reset before each; ours: imports, one chunk's "
          "frames and the kept rows; ours' rows show the peak of both kinds of run)")
    print(f"ours' peak sampled every 5 ms during the runs: {ours['sampled_peak_mb']:.0f} MB; "
          f"ru_maxrss at the end (which the VmHWM resets also reset): ours "
          f"{ours['process_peak_mb']:.0f} MB"
          + (f", datacompy {theirs['process_peak_mb']:.0f} MB" if theirs else ""))
    print()
    peak = max(ours["compare_peak_mb"], ours["sampled_peak_mb"])
    oc = ours["counts"]
    five = all(oc[c] == truth[c] for c in CLASSES)
    if theirs is not None:
        speedup = theirs["median_seconds"] / ours_classes["median_seconds"]
        check = theirs["median_seconds"] / ours["median_seconds"]
        print(f"speed:   ours (classes) is {speedup:.1f}x faster than datacompy (target >= "
              f"{TARGET_SPEEDUP:.0f}x: {_verdict(speedup >= TARGET_SPEEDUP)}); the whole check, "
              f"causes included, {check:.1f}x; per round (medians): " + ", ".join(
                  f"{t / c:.1f}x" for c, t in _per_round(ours_classes, theirs, args)))
    print(f"memory:  ours peaks at {peak:.0f} MB while reconciling (target < "
          f"{TARGET_PEAK_MB:.0f} MB: {_verdict(peak < TARGET_PEAK_MB)}); the build peaked at "
          f"{ours['build_peak_mb']:.0f} MB")
    print(f"classes: ours equals the planted truth in all five classes: {_verdict(five)} "
          f"(and ok {oc['ok']:,} vs {truth['ok']:,} planted)")
    print()
    _print_classes(truth, oc, theirs["counts"] if theirs else None)
    print()
    print("ours, likely causes:", json.dumps(ours["causes"]))
    print(ours["examples"])


def _per_round(ours: dict, theirs: dict, args: argparse.Namespace) -> list[tuple[float, float]]:
    """Each round's median seconds of the two contenders (runs were alternated by round)."""
    n = args.repeat
    return [(statistics.median(ours["seconds"][i * n:(i + 1) * n]),
             statistics.median(theirs["seconds"][i * n:(i + 1) * n]))
            for i in range(len(theirs["seconds"]) // n)]


def _print_classes(truth: dict[str, int], oc: dict[str, int], tc: dict[str, int] | None) -> None:
    mismatch = truth["stale"] + truth["wrong_values"]
    rows = [
        ("missing", truth["missing"], oc["missing"], tc and tc["missing"], ""),
        ("extra", truth["extra"], oc["extra"], tc and tc["extra"],
         "datacompy counts each duplicated key's second invoice as an extra row"
         if tc and tc["extra"] != oc["extra"] else ""),
        ("duplicate", truth["duplicate"], oc["duplicate"], None, "no such class in datacompy"),
        ("stale", truth["stale"], oc["stale"], None, "datacompy has no ledger: see mismatch"),
        ("wrong_values", truth["wrong_values"], oc["wrong_values"], None, "see mismatch"),
        ("mismatch (stale+wrong)", mismatch, oc["stale"] + oc["wrong_values"],
         tc and tc["mismatch"],
         f"datacompy compares currencies case-sensitively: the "
         f"{truth['lower_case_currency']:,} lower-case ones"),
        ("ok", truth["ok"], oc["ok"], tc and tc["ok"],
         f"datacompy pairs each duplicated key with one invoice (+{truth['duplicate']:,}) and "
         f"calls the lower-case currencies mismatches (-{truth['lower_case_currency']:,})"),
    ]
    print(f"{'class':24}{'planted':>12}{'ours':>12}{'datacompy':>12}  agreement")
    for name, want, got, their, why in rows:
        if their is None:
            note, shown = (why if tc else ""), "—"
        else:
            note, shown = ("agree" if their == got else f"differ: {why}"), f"{their:,}"
        print(f"{name:24}{want:>12,}{got:>12,}{shown:>12}  {note}")


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


if __name__ == "__main__":
    main()
