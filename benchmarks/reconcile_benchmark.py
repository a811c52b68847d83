"""Benchmark: the reconciliation engine against datacompy on one million invoices a side.

Generates a seeded window of Shopify-order-like source records and QuickBooks-invoice-like
destination records with planted discrepancies (1% missing, 0.5% extra, 1% wrong values, 0.5%
stale, 0.2% duplicated, plus 0.5% trivial source updates and 0.1% emoji-only differences that
must count as ok), both sides in random row order, then runs both contenders on the same data,
each in its own child process, and prints wall time (median of --repeat runs), peak memory and
per-class counts against the planted truth.

datacompy 1.1 needs pandas < 3.1 (beside pandas 3.1 pip silently picks datacompy 0.7.3), so
its side runs in a virtualenv of its own, created once under benchmarks/.venv-datacompy.
Data passes between processes as pickled numpy arrays and lists in a temporary folder.

    .venv/bin/python benchmarks/reconcile_benchmark.py [--records 1000000] [--seed 7]

The rolling reconciliation's scale (60 days x 10,000 orders a day) is `--records 600000`:
on 2026-12-04 the compare took 0.23 s against datacompy's 1.75 s (7.8x) with a 435 MB peak,
all five classes exact. Production keys every side by DocNumber text: `--doc-numbers` does
the same (2026-12-06, 1M a side: 2.74 s against datacompy's 9.67 s, 3.5x, 1,021 MB peak;
see benchmarks/README.md). The rolling job reconciles a week per run (70,000 a side), not
all 60 days at once.

Benchmarks measure; they never run in CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATACOMPY_VENV = HERE / ".venv-datacompy"
DATACOMPY_REQUIREMENTS = ["datacompy==1.1.*", "pandas<3.1"]
FIELDS = ("total", "currency", "customer", "txn_date", "voided")
SHARES = {
    "missing": 0.01,
    "extra": 0.005,
    "wrong_values": 0.01,
    "stale": 0.005,
    "duplicate": 0.002,
    "trivial_update": 0.005,
    "emoji_only": 0.001,
}
CLASSES = ("missing", "extra", "duplicate", "stale", "wrong_values")
TARGET_SPEEDUP = 5.0
TARGET_PEAK_MB = 1024.0


# --- the data set -------------------------------------------------------------------------


def generate(n: int, seed: int, folder: Path, doc_numbers: bool = False) -> dict[str, int]:
    """Write source, destination and ledger for `n` source records; return the planted counts."""
    rng = np.random.default_rng(seed)
    keys = 5_000_000_000 + np.arange(n, dtype=np.int64) * 3
    version = 1_714_000_000 + rng.integers(0, 86_400, n)
    total = rng.integers(100, 500_000, n) / 100
    currency = rng.choice(np.array(["USD", "EUR", "GBP", "CAD"], dtype=object), n)
    first = rng.choice(np.array(["Ann", "Bo", "Chloé", "Dmitri", "Eve", "Søren"]), n)
    customer = [
        f"{f} Customer {i:07d} [shopify:{k}:{c}]"
        for i, (f, k, c) in enumerate(zip(first, keys, currency, strict=True))
    ]
    txn_date = np.full(n, np.datetime64("2024-05-01", "D"))  # one daily partition
    voided = rng.random(n) < 0.01

    counts = {name: round(share * n) for name, share in SHARES.items()}
    order = rng.permutation(n)
    plan, start = {}, 0
    for name in ("missing", "wrong_values", "stale", "duplicate", "trivial_update", "emoji_only"):
        plan[name] = np.sort(order[start : start + counts[name]])
        start += counts[name]

    src = {
        "key": keys,
        "version": version.copy(),
        "total": total.copy(),
        "currency": currency.copy(),
        "customer": list(customer),
        "txn_date": txn_date,
        "voided": voided,
    }
    dst = {
        "key": keys.copy(),
        "total": total,
        "currency": currency,
        "customer": customer,
        "txn_date": txn_date.copy(),
        "voided": voided.copy(),
    }
    ledger_version = version.copy()

    # stale: the source changed after the last sync; the destination has the old total.
    stale = plan["stale"]
    src["version"][stale] += 3_600
    src["total"][stale] = np.round(src["total"][stale] + 1.0, 2)
    # trivial update: a newer source version whose invoice-relevant values did not change.
    src["version"][plan["trivial_update"]] += 3_600
    # wrong values: the destination differs although the ledger is current.
    wrong = plan["wrong_values"]
    which = rng.integers(0, len(FIELDS), len(wrong))
    dst["total"][wrong[which == 0]] = np.round(dst["total"][wrong[which == 0]] + 0.01, 2)
    dst["currency"][wrong[which == 1]] = "JPY"
    for i in wrong[which == 2]:
        dst["customer"][i] = dst["customer"][i].replace("Customer", "Client")
    dst["txn_date"][wrong[which == 3]] += np.timedelta64(1, "D")
    dst["voided"][wrong[which == 4]] ^= True
    # emoji only: QuickBooks dropped the emoji; equal after normalisation.
    for i in plan["emoji_only"]:
        src["customer"][i] = src["customer"][i] + " 🎉"

    # destination rows: all but missing, duplicated rows twice, plus extra keys.
    present = np.ones(n, dtype=bool)
    present[plan["missing"]] = False
    rows = np.concatenate([np.flatnonzero(present), plan["duplicate"]])
    n_extra = counts["extra"]
    extra_keys = keys[-1] + 3 * (1 + np.arange(n_extra, dtype=np.int64)) + 1
    shuffle = rng.permutation(len(rows) + n_extra)
    destination = {"key": np.concatenate([keys[rows], extra_keys])[shuffle]}
    for name in FIELDS:
        column = dst[name]
        if isinstance(column, list):
            taken = [column[i] for i in rows] + [f"Walk-in customer {i}" for i in range(n_extra)]
            destination[name] = [taken[i] for i in shuffle]
        else:
            filler = column[:n_extra] if len(column) >= n_extra else column
            destination[name] = np.concatenate([column[rows], filler])[shuffle]
    destination["destination_id"] = [f"Q{i}" for i in range(len(shuffle))]
    # the ledger knows the first record created for each synced key.
    first_id = {}
    for position, key in enumerate(destination["key"].tolist()):
        first_id.setdefault(key, destination["destination_id"][position])
    synced = np.flatnonzero(present)
    ledger = {
        "key": keys[synced],
        "source_version": ledger_version[synced],
        "destination_id": [first_id[k] for k in keys[synced].tolist()],
    }
    source_order = rng.permutation(n)
    source = {name: _take(col, source_order) for name, col in src.items()}

    if doc_numbers:  # production's keys: DocNumber text, `S<number>`, on every side
        for data in (source, destination, ledger):
            data["key"] = np.array([f"S{k}" for k in data["key"].tolist()], dtype=object)
    for name, data in (("source", source), ("destination", destination), ("ledger", ledger)):
        with open(folder / f"{name}.pkl", "wb") as fh:
            pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    planted = {k: counts[k] for k in CLASSES}
    planted["ok"] = n - counts["missing"] - counts["duplicate"] - counts["stale"] - len(wrong)
    planted["emoji_only"] = counts["emoji_only"]
    planted["destination_rows"] = len(shuffle)
    return planted


def _take(column, order: np.ndarray):
    return [column[i] for i in order] if isinstance(column, list) else column[order]


# --- the contenders (each runs in a child process) -----------------------------------------


def _frames(folder: Path):
    import pandas as pd

    frames = {}
    for name in ("source", "destination", "ledger"):
        with open(folder / f"{name}.pkl", "rb") as fh:
            frames[name] = pd.DataFrame(pickle.load(fh))
    return frames


def _rss_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> None:
    """Make VmHWM restart from the current RSS, so the compare phase's own peak shows."""
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


def child_ours(folder: Path, repeat: int) -> dict:
    sys.path.insert(0, str(ROOT))
    import pandas as pd

    from integrations_pipelines.reconciliation.diagnosis import Evidence, diagnose
    from integrations_pipelines.reconciliation.engine import reconcile
    from integrations_pipelines.reconciliation.fields import FieldSpec

    f = _frames(folder)
    specs = [
        FieldSpec("total", "money"),
        FieldSpec("currency", "currency"),
        FieldSpec("customer", "text"),
        FieldSpec("txn_date", "date"),
        FieldSpec("voided", "bool"),
    ]
    baseline = _rss_mb("VmRSS")
    result, seconds, peak = _timed(
        lambda: reconcile(f["source"], f["destination"], f["ledger"], specs), repeat
    )
    evidence = Evidence(http_failures=pd.DataFrame({"status": [429]}))
    causes, diagnose_seconds, _ = _timed(lambda: diagnose(result, evidence), 1)
    return {
        "versions": {"pandas": pd.__version__, "numpy": np.__version__},
        "seconds": seconds,
        "diagnose_seconds": diagnose_seconds[0],
        "baseline_mb": baseline,
        "compare_peak_mb": peak,
        "counts": result.counts,
        "causes": causes.groupby("cause_code").size().to_dict(),
        "examples": result.examples_markdown(5, causes.set_index("key")["cause"]),
    }


def child_datacompy(folder: Path, repeat: int) -> dict:
    import datacompy
    import pandas as pd

    f = _frames(folder)
    df1 = f["source"].drop(columns="version")
    df2 = f["destination"].drop(columns="destination_id")
    del f
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
        "versions": {
            "datacompy": datacompy.__version__,
            "pandas": pd.__version__,
            "numpy": np.__version__,
        },
        "seconds": seconds,
        "baseline_mb": baseline,
        "compare_peak_mb": peak,
        "counts": counts,
    }


# --- the driver ----------------------------------------------------------------------------


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


def run_child(python: Path, role: str, folder: Path, repeat: int) -> dict:
    """Run one contender in a fresh process; its peak RSS is the process's ru_maxrss."""
    script = str(Path(__file__).resolve())
    done = subprocess.run(
        [str(python), script, "--child", role, "--data", str(folder), "--repeat", str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    report["process_peak_mb"] = report["self_peak_mb"]
    report["median_seconds"] = statistics.median(report["seconds"])
    return report


def _child_main(role: str, folder: Path, repeat: int) -> None:
    child = child_ours if role == "ours" else child_datacompy
    report = child(folder, repeat)
    report["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(report, default=str))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--doc-numbers", action="store_true",
                        help="key every side by DocNumber text (S<number>), as production does")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per contender")
    parser.add_argument("--rebuild-venv", action="store_true")
    parser.add_argument("--child", choices=["ours", "datacompy"], help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child_main(args.child, args.data, args.repeat)
        return

    datacompy_python = ensure_datacompy_venv(args.rebuild_venv)
    with tempfile.TemporaryDirectory(prefix="reconcile-bench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        planted = generate(args.records, args.seed, folder, args.doc_numbers)
        print(
            f"data: {args.records:,} source records, {planted['destination_rows']:,} destination"
            f" records (seed {args.seed}, {'DocNumber text' if args.doc_numbers else 'integer'}"
            f" keys), generated in {time.perf_counter() - started:.1f} s",
            flush=True,
        )
        ours = run_child(Path(sys.executable), "ours", folder, args.repeat)
        theirs = run_child(datacompy_python, "datacompy", folder, args.repeat)
    print_report(planted, ours, theirs)


def print_report(planted: dict, ours: dict, theirs: dict) -> None:
    ov, tv = ours["versions"], theirs["versions"]
    print(
        f"ours:      integrations_pipelines.reconciliation, pandas {ov['pandas']}, "
        f"numpy {ov['numpy']}"
    )
    print(f"datacompy: datacompy {tv['datacompy']}, pandas {tv['pandas']}, numpy {tv['numpy']}")
    if not tv["datacompy"].startswith("1.1"):
        print("WARNING: not datacompy 1.1; rerun with --rebuild-venv")
    print("both sides' rows in random order (the worst case for memory locality)")
    print()
    print(f"{'':11}{'median s':>9}  {'runs s':<22}{'peak MB':>8}{'data MB':>9}{'compare MB':>12}")
    for name, r in (("ours", ours), ("datacompy", theirs)):
        runs = " ".join(f"{x:.3f}" for x in r["seconds"])
        print(
            f"{name:11}{r['median_seconds']:>9.3f}  {runs:<22}{r['process_peak_mb']:>8.0f}"
            f"{r['baseline_mb']:>9.0f}{r['compare_peak_mb']:>12.0f}"
        )
    print("peak MB: the child process's ru_maxrss, loading the data included; data MB: its RSS")
    print("once the frames were built; compare MB: its peak RSS while comparing")
    print(
        f"ours: the diagnosis of every discrepancy took a further {ours['diagnose_seconds']:.3f} s"
    )
    print()
    speedup = theirs["median_seconds"] / ours["median_seconds"]
    peak = ours["process_peak_mb"]
    oc, tc = ours["counts"], theirs["counts"]
    five = all(oc[c] == planted[c] for c in CLASSES)
    print(
        f"speed:   ours is {speedup:.1f}x faster than datacompy (target >= "
        f"{TARGET_SPEEDUP:.0f}x: {_verdict(speedup >= TARGET_SPEEDUP)})"
    )
    print(
        f"memory:  ours peaks at {peak:.0f} MB (target < {TARGET_PEAK_MB:.0f} MB: "
        f"{_verdict(peak < TARGET_PEAK_MB)})"
    )
    print(
        f"classes: ours equals the planted truth in all five classes: {_verdict(five)} "
        f"(and ok {oc['ok']:,} vs {planted['ok']:,} planted)"
    )
    print()
    mismatch = planted["stale"] + planted["wrong_values"]
    surplus = tc["extra"] - oc["extra"]
    more = tc["mismatch"] - (oc["stale"] + oc["wrong_values"])
    rows = [
        ("missing", planted["missing"], oc["missing"], tc["missing"], ""),
        (
            "extra",
            planted["extra"],
            oc["extra"],
            tc["extra"],
            f"datacompy counts duplicated keys' {surplus:,} surplus records as extra rows",
        ),
        ("duplicate", planted["duplicate"], oc["duplicate"], None, "no such class in datacompy"),
        ("stale", planted["stale"], oc["stale"], None, "datacompy has no ledger: see mismatch"),
        ("wrong_values", planted["wrong_values"], oc["wrong_values"], None, "see mismatch"),
        (
            "mismatch (stale+wrong)",
            mismatch,
            oc["stale"] + oc["wrong_values"],
            tc["mismatch"],
            f"datacompy does not normalise text: {more:,} more, the {planted['emoji_only']:,} "
            "emoji-only differences",
        ),
    ]
    print(f"{'class':24}{'planted':>9}{'ours':>9}{'datacompy':>11}  agreement")
    for name, want, got, their, why in rows:
        if their is None:
            note, shown = why, "—"
        else:
            note, shown = ("agree" if their == got else f"differ: {why}"), f"{their:,}"
        print(f"{name:24}{want:>9,}{got:>9,}{shown:>11}  {note}")
    print()
    print("ours, likely causes:", json.dumps(ours["causes"]))
    print(ours["examples"])


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


if __name__ == "__main__":
    main()
