"""Benchmark: the raw store's window writes, first load and replay, in rows/s and WAL bytes.

A replay (re-extracting a window that did not change: a re-run, a backfill over old days,
the rolling reconciliation) must write nothing. Two data sets, each loaded into a window of
an empty store and then replayed unchanged, then replayed with 1% of the records changed:

- `orders`: realistic Shopify orders (the seeded shop generator's payloads, a few KB each,
  cycled over fresh ids), through `vendors.shopify.records.order_record`;
- `small`: small payloads (an id, a status, an amount), the shape of a ledger-like source.

Four contenders run on the same rows, each in a database of its own on one embedded
PostgreSQL server, one after the other:

- `store`: production's path for a window written at once, `state.raw.replace_window` (the
  Xero pair's invoices and credit notes, Stripe's payout items; a window with nothing
  stored: binary COPY straight into the table; otherwise COPY into a staging table, one
  guarded upsert that leaves identical rows untouched, the window's vanished keys deleted);
- `store, pages`: production's path for an extraction (`sync.extraction.store_orders`, the
  Stripe objects): the same `raw.WindowReplacement` given pages of 250, each committed
  before the next;
- `delete+insert`: the path before it (delete the window, insert every row again, the
  executemany upsert SQLAlchemy sends for a list of parameter sets);
- `copy+merge`: the anchor for bulk loads (COPY into a staging table, then `MERGE` with an
  `IS DISTINCT FROM` guard), PostgreSQL 15+.

For each it prints rows/s (rows given / wall seconds), rows written (inserted + updated +
deleted, from the table's statistics) and WAL bytes (`pg_current_wal_lsn` before and after).

    .venv/bin/python benchmarks/raw_store_benchmark.py [--rows 200000] [--repeat 3]
        [--breakdown]

`--breakdown` also times the parts of a first load of the small rows, each alone.

Benchmarks measure; they never run in CI.
"""

from __future__ import annotations

import argparse
import copy
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import psycopg
import psycopg.copy
import sqlalchemy as sa
from psycopg.types.string import BytesBinaryDumper
from sqlalchemy.dialects.postgresql import insert as pg_insert

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from integrations_pipelines import local_postgres  # noqa: E402
from integrations_pipelines.sandbox.shop_generator import generate_shop  # noqa: E402
from integrations_pipelines.state import raw  # noqa: E402
from integrations_pipelines.state.db import engine_for, upgrade  # noqa: E402
from integrations_pipelines.state.tables import raw_records  # noqa: E402
from integrations_pipelines.vendors.shopify.models import Order  # noqa: E402
from integrations_pipelines.vendors.shopify.records import ORDERS, order_record  # noqa: E402

DAY = date(2026, 11, 2)
KIND = ORDERS
TARGET_SMALL_ROWS_PER_S = 100_000
CHANGED_SHARE = 0.01


def orders_data(n: int, seed: int) -> list[raw.RawRecord]:
    """`n` realistic orders of one business day: the generator's payloads, cycled over new
    ids (each payload a separate object, so serialising costs what it costs in production)."""
    shop = generate_shop(seed=seed, start=DAY, days=1, orders_per_day=min(n, 2_000))
    models = [Order.model_validate(o) for o in shop]
    records = []
    for i in range(n):
        template, model = shop[i % len(shop)], models[i % len(shop)]
        payload = copy.deepcopy(template) if i < len(shop) else {**template, "id": 10**15 + i}
        record = order_record(model, payload, DAY)
        records.append(raw.RawRecord(record_key=str(payload["id"]), business_date=DAY,
                                     version=record.version, payload=payload,
                                     facts=record.facts))
    return records


def small_data(n: int, seed: int) -> list[raw.RawRecord]:
    """`n` small records: an id, a status and an amount."""
    base = datetime(2026, 11, 2, tzinfo=UTC)
    return [raw.RawRecord(record_key=str(10**12 + i), business_date=DAY,
                          version=base + timedelta(seconds=i % 86_400),
                          payload={"id": 10**12 + i, "status": "paid",
                                   "amount": f"{(i * 37 + seed) % 100_000 / 100:.2f}"})
            for i in range(n)]


def changed(records: Sequence[raw.RawRecord]) -> list[raw.RawRecord]:
    """The same window with every 100th record at a newer version and another payload."""
    step = round(1 / CHANGED_SHARE)
    out = list(records)
    for i in range(0, len(out), step):
        r = out[i]
        out[i] = raw.RawRecord(record_key=r.record_key, business_date=r.business_date,
                               version=(r.version or datetime.now(UTC)) + timedelta(hours=1),
                               payload={**r.payload, "note": "changed"}, facts=r.facts)
    return out


# --- the contenders ------------------------------------------------------------------------


def store_path(conn: sa.Connection, records: Sequence[raw.RawRecord]) -> None:
    raw.replace_window(conn, KIND, DAY, DAY + timedelta(days=1), records, "bench")


EXTRACTION_PAGE = 250  # Shopify's page: what `sync.extraction.store_orders` stores at a time


def store_pages_path(conn: sa.Connection, records: Sequence[raw.RawRecord]) -> None:
    """Production's extraction shape (`sync.extraction.store_orders`): the same
    `raw.WindowReplacement`, a page of 250 records at a time, each page committed before the
    next (on a connection of its own: `conn`'s transaction stays empty)."""
    with conn.engine.connect() as own:
        replacement = raw.WindowReplacement(own, KIND, DAY, DAY + timedelta(days=1), "bench")
        own.commit()
        for at in range(0, len(records), EXTRACTION_PAGE):
            replacement.add(records[at:at + EXTRACTION_PAGE])
            own.commit()
        replacement.finish()
        # its row counts reach the statistics when the session next goes idle, not up to
        # 10 s later (this connection stays open in the pool)
        own.execute(sa.text("SELECT pg_stat_force_next_flush()"))
        own.commit()


def delete_insert_path(conn: sa.Connection, records: Sequence[raw.RawRecord]) -> None:
    """The raw store's write before the guarded path: delete the window, insert it all."""
    conn.execute(raw_records.delete().where(raw.of_kind(KIND),
                                            raw_records.c.business_date == DAY))
    now = datetime.now(UTC)
    rows = [{"system": KIND.system, "record_type": KIND.record_type, "account": KIND.account,
             "record_key": r.record_key, "business_date": r.business_date,
             "version": r.version or now, "external_key": r.external_key,
             "facts": dict(r.facts), "payload": r.payload, "extracted_at": now,
             "run_id": "bench"} for r in records]
    stmt = pg_insert(raw_records)
    updated = ("business_date", "version", "external_key", "facts", "payload",
               "extracted_at", "run_id")
    conn.execute(stmt.on_conflict_do_update(
        index_elements=list(raw_records.primary_key.columns.keys()),
        set_={c: stmt.excluded[c] for c in updated}), rows)


def copy_merge_path(conn: sa.Connection, records: Sequence[raw.RawRecord]) -> None:
    """COPY into a staging table, then one guarded MERGE (the bulk-load anchor)."""
    rows = raw.insert_rows(KIND, records, "bench")
    raw.stage(conn, rows)
    compared = ("business_date", "version", "external_key", "facts", "payload")
    conn.execute(sa.text(
        "MERGE INTO raw_records t USING raw_records_stage s "
        "ON (t.system, t.record_type, t.account, t.record_key) "
        "= (s.system, s.record_type, s.account, s.record_key) "
        f"WHEN MATCHED AND ({', '.join('t.' + c for c in compared)}) IS DISTINCT FROM "
        f"({', '.join('s.' + c for c in compared)}) THEN UPDATE SET "
        + ", ".join(f"{c} = s.{c}" for c in (*compared, "extracted_at", "run_id"))
        + " WHEN NOT MATCHED THEN INSERT VALUES (" + ", ".join(
            f"s.{c.name}" for c in raw_records.columns) + ")"))


CONTENDERS: dict[str, Callable[[sa.Connection, Sequence[raw.RawRecord]], None]] = {
    "store": store_path,
    "store, pages": store_pages_path,
    "delete+insert": delete_insert_path,
    "copy+merge": copy_merge_path,
}


# --- measuring -----------------------------------------------------------------------------


@dataclass
class Figures:
    seconds: float
    written: int
    wal_bytes: int


def _tuples(conn: sa.Connection) -> int:
    conn.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
    row = conn.execute(sa.text(
        "SELECT n_tup_ins + n_tup_upd + n_tup_del FROM pg_stat_user_tables "
        "WHERE relname = 'raw_records'")).scalar_one()
    return int(row)


def _wal(conn: sa.Connection) -> int:
    return int(conn.execute(sa.text(
        "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')")).scalar_one())


def measure(engine: sa.Engine, write: Callable[[sa.Connection, Sequence[raw.RawRecord]], None],
            records: Sequence[raw.RawRecord]) -> Figures:
    with engine.connect() as probe:
        tuples, wal = _tuples(probe), _wal(probe)
    started = time.perf_counter()
    with engine.begin() as conn:
        write(conn, records)
    seconds = time.perf_counter() - started
    time.sleep(0.6)  # the statistics collector flushes at most every 500 ms
    with engine.connect() as probe:
        return Figures(seconds, _tuples(probe) - tuples, _wal(probe) - wal)


def run(pg_base: str, name: str, data: list[raw.RawRecord],
        repeat: int) -> dict[str, dict[str, Figures]]:
    """Per contender: first load, unchanged replay, 1%-changed replay (median seconds). The
    contenders take turns within each repetition, so a spell of load from other work on the
    machine falls on all of them alike."""
    changed_data = changed(data)
    phases: dict[str, dict[str, list[Figures]]] = {
        contender: {"first load": [], "replay": [], "1% changed": []}
        for contender in CONTENDERS}
    for attempt in range(repeat):
        for contender, write in CONTENDERS.items():
            tag = contender.replace("+", "_").replace(", ", "_")
            db = f"bench_{name.replace('+', '_')}_{tag}_{attempt}"
            url = local_postgres.ensure_database(pg_base, db)
            upgrade(url)
            engine = engine_for(url)
            mine = phases[contender]
            mine["first load"].append(measure(engine, write, data))
            mine["replay"].append(measure(engine, write, data))
            mine["1% changed"].append(measure(engine, write, changed_data))
            engine.dispose()
            local_postgres.drop_database(pg_base, db)
    return {contender: {
        phase: Figures(statistics.median(f.seconds for f in figures),
                       round(statistics.median(f.written for f in figures)),
                       round(statistics.median(f.wal_bytes for f in figures)))
        for phase, figures in mine.items()} for contender, mine in phases.items()}


def report(name: str, rows: int, results: dict[str, dict[str, Figures]]) -> None:
    print(f"\n{name}: {rows:,} rows")
    print(f"  {'contender':<14} {'phase':<11} {'rows/s':>10} {'rows written':>13} "
          f"{'WAL MB':>8}")
    for contender, phases in results.items():
        for phase, f in phases.items():
            print(f"  {contender:<14} {phase:<11} {rows / f.seconds:>10,.0f} "
                  f"{f.written:>13,} {f.wal_bytes / 2**20:>8.1f}")
    store = results["store"]
    print(f"  store replay writes {store['replay'].written} rows "
          f"({'OK' if store['replay'].written == 0 else 'FAIL'}: target 0); "
          f"store/delete+insert first-load speed "
          f"{results['delete+insert']['first load'].seconds / store['first load'].seconds:.2f}x,"
          f" replay {results['delete+insert']['replay'].seconds / store['replay'].seconds:.2f}x")


def breakdown(pg_base: str, data: Sequence[raw.RawRecord]) -> None:
    """Where a first load's time goes, each part timed alone on the same rows. The store's
    first load: the records made into binary COPY rows and formatted by psycopg (not sent),
    PostgreSQL alone taking those bytes into `raw_records` (its primary key and two
    indexes), and the whole straight COPY (both at once, over the socket). The guarded
    merge's way, beside it: insert parameters made (`insert_rows`), serialised for a text
    COPY, COPY into the unindexed staging table, the merge from there."""
    url = local_postgres.ensure_database(pg_base, "bench_breakdown")
    upgrade(url)
    engine = engine_for(url)
    parts: dict[str, float] = {}

    def timed(name: str, part: Callable[[], object]) -> None:
        started = time.perf_counter()
        part()
        parts[name] = time.perf_counter() - started

    def empty() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("TRUNCATE raw_records"))
            conn.execute(sa.text("CHECKPOINT"))

    now = datetime.now(UTC)
    formatted = io.BytesIO()
    with engine.begin() as conn:
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        cursor = cast("psycopg.Cursor[Any]", dbapi.cursor())
        cursor.adapters.register_dumper(bytes, BytesBinaryDumper)  # as raw._copy does
        with cursor, psycopg.copy.Copy(cursor, binary=True,
                                       writer=psycopg.copy.FileWriter(formatted)) as copy:
            copy.set_types(raw._BINARY_TYPES)

            def format_rows() -> None:
                for row in raw._binary_values(KIND, raw._newest(data, now), "b", now):
                    copy.write_row(row)
            timed("first load: binary rows made + formatted", format_rows)
    copied = formatted.getvalue()
    empty()
    with engine.begin() as conn:
        def send() -> None:
            dbapi = conn.connection.dbapi_connection
            assert dbapi is not None
            with cast("psycopg.Cursor[Any]", dbapi.cursor()) as cursor, cursor.copy(
                    f"COPY raw_records ({', '.join(raw._COLUMNS)}) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                for at in range(0, len(copied), 1 << 20):
                    copy.write(copied[at:at + (1 << 20)])
        timed("first load: PostgreSQL alone (bytes sent)", send)
    empty()
    with engine.begin() as conn:
        timed("first load: the whole straight COPY", lambda: raw._copy(
            conn, "raw_records", raw._binary_values(KIND, raw._newest(data, now), "b", now),
            raw._BINARY_TYPES))
    empty()
    rows: list[dict[str, object]] = []
    timed("merge: rows made (insert_rows)", lambda: rows.extend(raw.insert_rows(KIND, data, "b")))
    timed("merge: serialised (orjson, text COPY's rows)", lambda: list(raw._text_values(rows)))
    with engine.begin() as conn:
        timed("merge: COPY into the staging table (+ANALYZE)", lambda: raw.stage(conn, rows))
        timed("merge: guarded merge, staging -> table", lambda: raw._merge_stage(conn, False))
    engine.dispose()
    local_postgres.drop_database(pg_base, "bench_breakdown")
    print(f"\nwhere a first load of {len(data):,} rows goes (each part alone):")
    for name, seconds in parts.items():
        print(f"  {name:<46} {seconds:6.2f} s  {len(data) / seconds:>10,.0f} rows/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sets", default="small,orders",
                        help="the data sets measured, comma-separated (small, orders)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the parts of a first load of small rows alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="raw-bench-") as tmp:
        server, pg_base = local_postgres.start_embedded(Path(tmp) / "pgdata")
        try:
            with sa.create_engine(pg_base).connect() as conn:
                print(f"PostgreSQL {conn.execute(sa.text('SHOW server_version')).scalar()}, "
                      f"SQLAlchemy {sa.__version__}")
            wanted = set(args.sets.split(","))
            for name, build in (("small", small_data), ("orders", orders_data)):
                if name not in wanted:
                    continue
                data = build(args.rows, args.seed)
                results = run(pg_base, name, data, args.repeat)
                report(name, len(data), results)
                if name == "small" and args.breakdown:
                    breakdown(pg_base, data)
                if name == "small":
                    rate = len(data) / results["store"]["first load"].seconds
                    print(f"  store first load {rate:,.0f} rows/s "
                          f"({'OK' if rate >= TARGET_SMALL_ROWS_PER_S else 'BELOW'} target "
                          f"{TARGET_SMALL_ROWS_PER_S:,})")
                del data
        finally:
            server.cleanup()


if __name__ == "__main__":
    main()
