"""Benchmark: Stripe balance transactions into the warehouse, rows/s, and a re-load's writes.

The same rows (synthetic balance transactions shaped like the sandbox's, through the
pair's own row function) are loaded into an empty warehouse table by each contender, each in
a database of its own on one embedded PostgreSQL server, then loaded again unchanged:

- `copy+merge`: production's path exactly: the loader `sync.stripe_to_warehouse.table_loader`
  builds (`vendors.warehouse.merge.MergeLoader`: a batch none of whose keys the table holds is
  COPYed straight into it, any other batch COPYed into a temporary staging table and merged
  with one `MERGE` guarded by `IS DISTINCT FROM`), in production's chunks (`CHUNK`), one
  commit per chunk as `load_window` does;
- `always-staged`: the same loader with the direct first load turned off (every batch
  staged and merged: the path before it), so the gain is measured in the same run;
- `execute_values`: the common hand-written path, pages of multi-row `INSERT ... VALUES
  (...), (...) ON CONFLICT (id) DO UPDATE ... WHERE IS DISTINCT FROM` (what psycopg2's
  `execute_values` sends), 1,000 rows a page, on psycopg 3;
- `dlt` (with `--dlt-python`, an interpreter that has `dlt[postgres]`: it is not a project
  dependency): `benchmarks/stripe_dlt_probe.py` runs a dlt pipeline with `write_disposition=
  "merge"` and `primary_key="id"` over the same rows (read from a JSON-lines file) into the
  same server.

It prints rows/s (rows given / wall seconds) and rows written (inserted + updated + deleted
by a transaction of the load, from the rows' `xmin`) for the first load and the re-load, and
the Python-side rate of making the rows (`row_of`, which the contenders are given done:
production's `load_window` also reads the raw store and maps each object, so its end-to-end
rate is below the load's).

    .venv/bin/python benchmarks/stripe_load_benchmark.py [--rows 200000] [--repeat 3]
        [--dlt-python /path/to/venv-with-dlt/bin/python]

Benchmarks measure; they never run in CI.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integrations_pipelines import local_postgres  # noqa: E402
from integrations_pipelines.mapping.stripe_to_warehouse import row_of, tables  # noqa: E402
from integrations_pipelines.mapping.stripe_to_warehouse_entry import (  # noqa: E402
    StripeToWarehouseEntry,
)
from integrations_pipelines.state.db import engine_for  # noqa: E402
from integrations_pipelines.sync.stripe_to_warehouse import (  # noqa: E402
    CHUNK,
    ensure_schema,
    table_loader,
)
from integrations_pipelines.vendors.warehouse.merge import MergeLoader  # noqa: E402

DAY = date(2026, 11, 27)
TARGET_ROWS_PER_S = 100_000
ENTRY = StripeToWarehouseEntry(
    name="bench", description="benchmark", source="stripe", destination="warehouse",
    owner="team:bench", owner_email="bench@example.com", slack_channel="#bench",
    partitions_start=DAY, schedule={"hour": 4, "minute": 0}, freshness_sla_hours=26,
    expected_daily_volume=1)
TABLE = tables(ENTRY)["balance_transactions"]
COLUMNS = [c.name for c in TABLE.columns]


def payloads(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = int(datetime.combine(DAY, datetime.min.time(), UTC).timestamp())
    out = []
    for i in range(n):
        amount = rng.randrange(100, 50_000)
        fee = round(amount * 0.029) + 30
        out.append({"id": f"txn_{i:024d}", "object": "balance_transaction", "amount": amount,
                    "fee": fee, "net": amount - fee, "currency": rng.choice(("usd", "eur")),
                    "created": start + rng.randrange(86400), "available_on": start + 172800,
                    "status": "pending", "type": "charge", "reporting_category": "charge",
                    "source": f"ch_{i:024d}", "exchange_rate": None})
    return out


def _chunks(loader: MergeLoader, engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    with engine.connect() as conn:
        for n in range(0, len(rows), CHUNK):
            loader.load(conn, rows[n:n + CHUNK])
            conn.commit()


def copy_merge(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    _chunks(table_loader(ENTRY, "balance_transactions"), engine, rows)


def always_staged(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    """The loader before the direct first load: every batch staged and merged."""
    loader = table_loader(ENTRY, "balance_transactions")
    _chunks(MergeLoader(loader.table, ("loaded_at", "source_version"), direct=False),
            engine, rows)


def execute_values(engine: sa.Engine, rows: list[dict[str, Any]]) -> None:
    names = ", ".join(COLUMNS)
    compared = [c for c in COLUMNS if c not in ("id", "loaded_at")]
    one = "(" + ", ".join(["%s"] * len(COLUMNS)) + ")"
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    tail = (f" ON CONFLICT (id) DO UPDATE SET {updates}"
            f" WHERE ({', '.join('t.' + c for c in compared)}) IS DISTINCT FROM "
            f"({', '.join('excluded.' + c for c in compared)})")
    with engine.connect() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        with dbapi.cursor() as cursor:
            for n in range(0, len(rows), 1000):
                page = rows[n:n + 1000]
                cursor.execute(f"INSERT INTO analytics.stripe_balance_transactions AS t ({names}) "
                               f"VALUES {', '.join([one] * len(page))}{tail}",
                               [row[c] for row in page for c in COLUMNS])
        dbapi.commit()


def next_xid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT pg_current_xact_id()::text::bigint"))
                   .scalar_one())


def written(engine: sa.Engine, since_xid: int, schema: str) -> int:
    """Rows of the table whose current version a transaction after `since_xid` wrote."""
    with engine.connect() as conn:
        return int(conn.execute(sa.text(
            f"SELECT count(*) FROM {schema}.stripe_balance_transactions "
            "WHERE xmin::text::bigint > :xid"), {"xid": since_xid}).scalar_one())


def measure(pg_base: str, name: str, load: Callable[[sa.Engine, list[dict[str, Any]]], None],
            rows: list[dict[str, Any]]) -> tuple[float, float, int, int]:
    """Seconds of the first load and of the re-load, and rows each wrote."""
    db = f"bench_stripe_{name}"
    url = local_postgres.ensure_database(pg_base, db)
    engine = engine_for(url)
    ensure_schema(engine, ENTRY)
    figures = []
    for _ in range(2):
        before = next_xid(engine)
        started = time.perf_counter()
        load(engine, rows)
        seconds = time.perf_counter() - started
        figures.append((seconds, written(engine, before,
                                         "dlt_analytics" if name == "dlt" else "analytics")))
    engine.dispose()
    local_postgres.drop_database(pg_base, db)
    return figures[0][0], figures[1][0], figures[0][1], figures[1][1]


Load = Callable[[sa.Engine, list[dict[str, Any]]], None]


def dlt_path(python: str, payload_file: Path) -> Load:
    def load(engine: sa.Engine, _: list[dict[str, Any]]) -> None:
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        subprocess.run([python, str(ROOT / "benchmarks" / "stripe_dlt_probe.py"), url,
                        str(payload_file)], check=True)
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--dlt-python", default=None)
    args = parser.parse_args()
    objects = payloads(args.rows, args.seed)
    version = datetime.now(UTC)
    started = time.perf_counter()
    rows = [row_of("balance_transactions", o, "UTC", version) for o in objects]
    mapping_rate = len(rows) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="stripe-bench-") as tmp:
        server, pg_base = local_postgres.start_embedded(Path(tmp) / "pgdata")
        contenders: dict[str, Callable[[sa.Engine, list[dict[str, Any]]], None]] = {
            "copy+merge": copy_merge, "always-staged": always_staged,
            "execute_values": execute_values}
        if args.dlt_python:
            payload_file = Path(tmp) / "rows.jsonl"
            payload_file.write_text("\n".join(json.dumps(r, default=str) for r in rows))
            contenders["dlt (merge)"] = dlt_path(args.dlt_python, payload_file)
        try:
            with sa.create_engine(pg_base).connect() as conn:
                print(f"PostgreSQL {conn.execute(sa.text('SHOW server_version')).scalar()}, "
                      f"{len(rows):,} balance transactions, median of {args.repeat}, "
                      f"production chunk {CHUNK:,}")
            print(f"  rows made (row_of, Python) {mapping_rate:,.0f} rows/s")
            print(f"  {'contender':<15} {'first load rows/s':>18} {'written':>9} "
                  f"{'re-load rows/s':>15} {'written':>9}")
            # Interleaved (each repeat runs every contender once) so that the machine's
            # noise falls on all of them alike.
            runs: dict[str, list[tuple[float, float, int, int]]] = {n: [] for n in contenders}
            for _ in range(args.repeat):
                for name, load in contenders.items():
                    runs[name].append(measure(
                        pg_base, name.split()[0].replace("+", "_").replace("-", "_"), load,
                        rows))
            rates: dict[str, float] = {}
            for name, done in runs.items():
                first = statistics.median(r[0] for r in done)
                again = statistics.median(r[1] for r in done)
                rates[name] = len(rows) / first
                print(f"  {name:<15} {len(rows) / first:>18,.0f} {done[0][2]:>9,} "
                      f"{len(rows) / again:>15,.0f} {max(r[3] for r in done):>9,}")
            rate, rewritten = rates["copy+merge"], max(r[3] for r in runs["copy+merge"])
            print(f"  copy+merge first load {rate:,.0f} rows/s "
                  f"({'OK' if rate >= TARGET_ROWS_PER_S else 'BELOW'} target "
                  f"{TARGET_ROWS_PER_S:,}); {rate / rates['always-staged']:.2f}x always-staged, "
                  f"{rate / rates['execute_values']:.1f}x execute_values in this run; re-load "
                  f"wrote {rewritten} rows ({'OK' if rewritten == 0 else 'FAIL'}: target 0)")
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
