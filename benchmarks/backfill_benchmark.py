"""Benchmark: a backfill of any length runs in bounded memory (issue 17).

Business question: a backfill of a year of orders must not run out of memory. Before, a run
held its whole window at once (about 46 KiB an order: payload plus validated model), so a
365-day range at 2,000 orders a day needed about 32 GiB. Now a backfill runs one day per run
(`BackfillPolicy.multi_run(backfill_days_per_run)`), and within a run the extraction stores
a page at a time and the sync reads the store a chunk at a time. This script shows whether
our memory grows with the number of days.

It backfills `--days` days of the seeded shop (`generate_shop` day by day, `--orders-per-day`
orders a day, edge cases included: some orders are unmappable by design and end as dead
letters) through the production path: the project's Definitions (`build_definitions`) and the
flagship job `shopify_to_quickbooks_job`, one partition per run as the backfill policy
launches them, each run executed with `execute_in_process` against a Dagster instance on
PostgreSQL (the same assets, steps, checks and engines a launched run executes:
`shopify/orders`, `shopify_to_quickbooks/invoice_sync`, `quickbooks/invoices`). All runs
execute one after the other in ONE process, the backfill process, which samples its own
resident memory (VmRSS, every 50 ms): production starts a fresh process per run (the run
launcher), so this is the stricter setting. Anything a run left behind (a cache, a leak)
would show here as growth with days, and a run that held its window would show as a day's
peak growing with the orders per day.

The vendors are the project's sandboxes over HTTP in a process of their own (their memory
is theirs, not counted): Shopify holding the generated range (each day generated when a
query first reaches it), QuickBooks Online starting empty, with throttling off (Shopify's
bucket and QuickBooks' per-realm limits set far above what the run sends; our clients'
request budgets set to match). Both get indexes so that their answers do not slow down as
the company grows (`DatedShopifyStore`,
`DatedQuickBooksStore`: the stock code answers from a superset of the matching rows, see
`qbo_sandbox_at_scale.py`); the sandboxes are stand-ins for the vendors, never production.

It prints, per day: the run's wall time, the backfill process's peak RSS during the run and
its RSS after it, the run's figures (orders extracted, invoices created, dead letters), the
machine's load and our process's CPU seconds (on a shared machine the wall time follows the
load; the CPU time hardly does);
then the overall peak, and the ratio of the peak RSS of the last days to that of the first
days after the first (the baseline measured in the same run; day 1 also pays for imports
and first connections, and is shown apart).

    .venv/bin/python benchmarks/backfill_benchmark.py [--days 365] [--orders-per-day 2000]
        [--stop-at HH:MM] [--profile DIR]

`--stop-at` starts no day after that UTC time (a long run on a shared machine reports the
days it completed); `--profile` samples both processes' stacks and writes where their time
went.

Benchmarks measure; they never run in CI.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import gc
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

START_DAY = date(2025, 1, 1)
JOB = "shopify_to_quickbooks_job"
EDGE_DAYS = 5  # days averaged at each end of the run for the growth ratio
UNLIMITED = 1_000_000  # requests a second: throttling off
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- the sandboxes (their own process) -----------------------------------------------------


def _generated_day(day: date, per_day: int, seed: int, ids: set[int]) -> list[dict[str, Any]]:
    """The shop's orders created on `day`: one `generate_shop` per day (its customer reuse
    scans the customers made so far, so a year in one call would take hours), seeded by the
    day. Order numbers run on across days in blocks of `per_day` (the DocNumber is the order
    number: day n's are 1001 + n * per_day onwards); ids are the generator's."""
    from integrations_pipelines.sandbox.shop_generator import generate_shop

    n = (day - START_DAY).days
    orders = generate_shop(seed=seed * 100_003 + n, start=day, days=1, orders_per_day=per_day)
    if len(orders) > per_day:
        raise RuntimeError(f"{day}: {len(orders)} orders, more than the {per_day} numbered")
    for i, order in enumerate(orders):
        number = 1001 + n * per_day + i
        order.update(order_number=number, name=f"#{number}", number=number - 1000)
        if order["id"] in ids:
            raise RuntimeError(f"seed {seed}: order id {order['id']} drawn twice")
        ids.add(order["id"])
    return orders


def sandbox_main(days: int, per_day: int, seed: int) -> None:
    """Serve the Shopify and QuickBooks sandboxes until stdin closes; print their details."""
    from qbo_sandbox_at_scale import ScaledQuickBooksStore

    from integrations_pipelines.sandbox.quickbooks_app import build_quickbooks_app
    from integrations_pipelines.sandbox.server import SandboxServer
    from integrations_pipelines.sandbox.shopify_app import build_shopify_app
    from integrations_pipelines.sandbox.shopify_orders import parse_time
    from integrations_pipelines.sandbox.shopify_store import ShopifyStore

    class DatedShopifyStore(ShopifyStore):
        """The stock shop, whose window queries look only at the window's days of orders
        (the stock `select` then applies every filter as before). Each day's orders are
        generated when a query first reaches that day (`generate_shop` with the day's own
        seed, numbered in the day's own block), so a year need not be generated before the
        first run, and the shop answers every query as if it had been."""

        first_day: date = START_DAY
        last_day: date = START_DAY

        def _day_index(self) -> dict[date, dict[int, dict[str, Any]]]:
            index = getattr(self, "_by_day", None)
            if index is None or getattr(self, "_indexed", None) is not self._orders:
                index = defaultdict(dict)
                for key, order in self._orders.items():
                    index[parse_time(order["created_at"]).astimezone(UTC).date()][key] = order
                self._by_day, self._indexed = index, self._orders
            return index

        def ensure_days(self, first: date, last: date) -> None:
            """Generate the shop's days in [first, last] not generated yet."""
            with self._lock:
                made: set[date] = getattr(self, "_made", set())
                self._made = made
                ids: set[int] = getattr(self, "_ids", set())
                self._ids = ids
                day = max(first, self.first_day)
                while day <= min(last, self.last_day):
                    if day not in made:
                        orders = _generated_day(day, per_day, seed, ids)
                        self.upsert_orders(orders)
                        made.add(day)
                        index = self._day_index()
                        for order in orders:  # the new orders into the day index
                            key = int(order["id"])
                            created = parse_time(order["created_at"]).astimezone(UTC).date()
                            index[created][key] = self._orders[key]
                    day += timedelta(days=1)

        def select(self, filters: dict[str, Any]) -> list[dict[str, Any]]:
            low, high = filters.get("created_at_min"), filters.get("created_at_max")
            if low is None or high is None or filters.get("ids"):
                self.ensure_days(self.first_day, self.last_day)  # the whole shop, then
                return super().select(filters)
            first = parse_time(low).astimezone(UTC).date()
            last = parse_time(high).astimezone(UTC).date()
            with self._lock:
                self.ensure_days(first - timedelta(days=1), last + timedelta(days=1))
                index = self._day_index()
                view: dict[int, dict[str, Any]] = {}
                for n in range((last - first).days + 1):
                    view.update(index.get(first + timedelta(days=n), {}))
                table, self._orders = self._orders, view
                try:
                    return super().select(filters)
                finally:
                    self._orders = table

    class DatedQuickBooksStore(ScaledQuickBooksStore):
        """`ScaledQuickBooksStore`, plus invoices indexed by DocNumber (the duplicate check
        of a create and `DocNumber in (...)`) and narrowed by TxnDate (the read-back), so
        a query costs the same on day 365 as on day 1."""

        _by_doc: dict[str, set[str]] | None = None
        _doc_table: dict[str, dict[str, Any]] | None = None

        def _doc_index(self) -> dict[str, set[str]]:
            if self._by_doc is None or self._doc_table is not self.invoices:
                index: dict[str, set[str]] = defaultdict(set)
                for ident, row in self.invoices.items():
                    index[str(row.get("DocNumber")).casefold()].add(ident)
                self._by_doc, self._doc_table = index, self.invoices
            return self._by_doc

        def _doc_taken(self, doc: str, own_id: str | None) -> bool:
            with self._lock:
                return any(self.invoices[i].get("DocNumber") == doc and i != own_id
                           for i in self._doc_index().get(str(doc).casefold(), ())
                           if i in self.invoices)

        def save_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
            with self._lock:
                index = self._doc_index()
                old = self.invoices.get(str(body.get("Id")))
                saved = super().save_invoice(body)
                if old is not None:
                    index[str(old.get("DocNumber")).casefold()].discard(saved["Id"])
                index[str(saved.get("DocNumber")).casefold()].add(saved["Id"])
                return saved

        def void_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
            with self._lock:
                self._by_doc = None  # rebuilt on the next use (voids are rare)
                return super().void_invoice(body)

        def delete_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
            with self._lock:
                self._by_doc = None
                return super().delete_invoice(body)

        def query(self, text: str) -> dict[str, Any]:
            from integrations_pipelines.sandbox.quickbooks_query import parse_query

            parsed = parse_query(text)
            if parsed.entity != "Invoice":
                return super().query(text)
            with self._lock:
                rows = self._narrowed(parsed.where)
                if rows is None:
                    return super().query(text)
                table, self.invoices = self.invoices, rows
                try:
                    return super().query(text)
                finally:
                    self.invoices = table

        def _narrowed(self, where: list[Any]) -> dict[str, dict[str, Any]] | None:
            """A superset of the invoices the conditions match, or None (no shortcut)."""
            for cond in where:
                if cond.path == ["DocNumber"] and cond.op == "in":
                    index = self._doc_index()
                    ids = {i for v in cond.value for i in index.get(str(v).casefold(), ())}
                    return {i: self.invoices[i] for i in ids if i in self.invoices}
            dated = [c for c in where if c.path == ["TxnDate"] and isinstance(c.value, str)
                     and ISO_DAY.fullmatch(c.value) and c.op in ("=", "<", ">", "<=", ">=")]
            if not dated:
                return None
            compare = {"=": str.__eq__, "<": str.__lt__, ">": str.__gt__, "<=": str.__le__,
                       ">=": str.__ge__}

            def maybe(row: dict[str, Any]) -> bool:
                day = row.get("TxnDate")
                if not (isinstance(day, str) and ISO_DAY.fullmatch(day)):
                    return True  # not a plain date: the stock code decides
                return all(compare[c.op](day, c.value) for c in dated)

            return {i: row for i, row in self.invoices.items() if maybe(row)}

    started = time.perf_counter()
    shop = DatedShopifyStore(bucket_capacity=UNLIMITED, leak_rate=UNLIMITED)
    shop.last_day = START_DAY + timedelta(days=days - 1)
    shop.ensure_days(START_DAY, START_DAY)  # the first day now: its time is printed
    books = DatedQuickBooksStore(per_second=UNLIMITED, per_minute=60 * UNLIMITED)
    shop_server = SandboxServer(build_shopify_app(shop)).start()
    books_server = SandboxServer(build_quickbooks_app(books)).start()
    print(json.dumps({
        "shop_url": shop_server.url, "shop_token": shop.access_token,
        "qbo_url": books_server.url, "realm_id": books.realm_id,
        "client_id": books.tokens.client_id, "client_secret": books.tokens.client_secret,
        "refresh_token": books.tokens.current_refresh_token,
        "generated_s": time.perf_counter() - started,
    }), flush=True)
    sys.stdin.read()  # the parent closes our stdin when it is done with us
    shop_server.stop()
    books_server.stop()


class Sandboxes:
    """The sandbox child process; `info` is what it printed (URLs and credentials)."""

    def __init__(self, days: int, per_day: int, seed: int, profile: str | None = None) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--sandbox-child",
                   "--days", str(days), "--orders-per-day", str(per_day), "--seed", str(seed),
                   *(["--profile", profile] if profile else [])]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, cwd=ROOT)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the sandbox process did not start")
        self.info: dict[str, Any] = json.loads(line)

    def rss_mb(self) -> float:
        return _rss_mb(self.process.pid)

    def stop(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the backfill (its own process) --------------------------------------------------------


def _rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class _MallInfo2(ctypes.Structure):
    """glibc's `struct mallinfo2` (every arena together)."""

    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def _memory_parts() -> dict[str, float]:
    """Where this process's memory is, to tell a leak from the allocator keeping memory:
    live Python objects (`gc_objects`, and `py_blocks`, Python's small-object blocks), the C
    allocator's bytes in use and free but kept (`malloc_used_mb`, `malloc_free_mb`: glibc's
    mallinfo2, all arenas), and the resident pages of the allocator's main heap (`heap_mb`)
    and of other anonymous mappings (`anon_mb`: Python's object arenas, large blocks, thread
    arenas and stacks). A leak grows the objects or malloc's bytes in use; an allocator that
    keeps what was freed grows its free bytes and the heap with them."""
    parts: dict[str, float] = {"gc_objects": len(gc.get_objects()),
                               "py_blocks": sys.getallocatedblocks()}
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is not None and hasattr(libc, "mallinfo2"):
        libc.mallinfo2.restype = _MallInfo2
        info = libc.mallinfo2()
        parts["malloc_used_mb"] = (info.uordblks + info.hblkhd) / 2**20
        parts["malloc_free_mb"] = info.fordblks / 2**20
    heap = anon = 0
    kind = ""
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":") and "-" in fields[0]:
            kind = "heap" if fields[-1] == "[heap]" else "anon" if len(fields) == 5 else ""
        elif fields and fields[0] == "Rss:" and kind == "heap":
            heap += int(fields[1])
        elif fields and fields[0] == "Rss:" and kind == "anon":
            anon += int(fields[1])
    parts["heap_mb"], parts["anon_mb"] = heap / 1024, anon / 1024
    return parts


class RssSampler:
    """Samples this process's resident memory every `interval` seconds; `take_peak()`
    returns the peak since the last call."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self._peak = _rss_mb()
        self.samples: list[tuple[float, float]] = []  # (time.time(), MB) since take_peak
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            rss = _rss_mb()
            with self._lock:
                self._peak = max(self._peak, rss)
                self.samples.append((time.time(), rss))

    def take_peak(self) -> float:
        rss = _rss_mb()
        with self._lock:
            peak, self._peak = max(self._peak, rss), rss
            self.samples = []
        return peak

    def step_peaks(self, instance: Any, run_id: str) -> dict[str, float]:
        """The peak RSS sampled while each step of the run executed (by its logged events)."""
        spans: dict[str, list[float]] = {}
        for entry in instance.all_logs(run_id):
            event = entry.dagster_event
            if event is not None and event.step_key and event.event_type_value in (
                    "STEP_START", "STEP_SUCCESS", "STEP_FAILURE"):
                spans.setdefault(event.step_key, []).append(entry.timestamp)
        with self._lock:
            samples = list(self.samples)
        return {step: max((mb for t, mb in samples if min(ts) <= t <= max(ts)), default=0.0)
                for step, ts in spans.items()}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _stop_at(text: str | None) -> float | None:
    """`HH:MM` UTC as a time.time() at or after now (today or tomorrow), or None."""
    if not text:
        return None
    now = datetime.now(UTC)
    hour, minute = (int(part) for part in text.split(":"))
    stop = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return (stop if stop > now else stop + timedelta(days=1)).timestamp()


def backfill_main(days: int, database_url: str, dagster_url: str,
                  sandbox: dict[str, Any], stop_at: float | None = None) -> None:
    """Run the flagship job once per day, in this process; print one JSON line per day."""
    import dagster as dg

    from integrations_pipelines.catalog import load_catalog

    # The catalog's partitions start on 2026-10-01; the backfilled range starts earlier, so
    # each entry's `partitions_start` moves to START_DAY (what editing catalog.yaml does),
    # before anything builds its partitions from it.
    os.environ.pop("INTEGRATIONS_PARTITIONS_START", None)
    for entry in load_catalog().values():
        entry.partitions_start = min(entry.partitions_start, START_DAY)

    from integrations_pipelines.definitions import build_definitions
    from integrations_pipelines.defs.resources import (
        IntegrationStore,
        QuickBooksResource,
        ShopifyResource,
    )
    from integrations_pipelines.settings import dagster_storage_url

    resources: dict[str, Any] = {
        "store": IntegrationStore(database_url=database_url),
        "shopify": ShopifyResource(base_url=sandbox["shop_url"],
                                   access_token=sandbox["shop_token"],
                                   bucket_size=UNLIMITED, leak_per_second=UNLIMITED),
        "quickbooks": QuickBooksResource(
            base_url=sandbox["qbo_url"], token_url=f"{sandbox['qbo_url']}/oauth2/v1/tokens/bearer",
            client_id=sandbox["client_id"], client_secret=sandbox["client_secret"],
            realm_id=sandbox["realm_id"], bootstrap_refresh_token=sandbox["refresh_token"],
            requests_per_second=UNLIMITED, requests_per_minute=60 * UNLIMITED),
    }
    job = build_definitions(resources).resolve_job_def(JOB)
    storage = {"postgres": {"postgres_url": dagster_storage_url(dagster_url)}}
    sampler = RssSampler()
    with dg.instance_for_test(overrides={"storage": storage}) as instance:
        for day in _days(days):
            if stop_at is not None and time.time() >= stop_at:
                break  # out of time: the days done are the run's
            started, cpu = time.perf_counter(), _cpu_s()
            result = job.execute_in_process(partition_key=day.isoformat(), instance=instance,
                                            raise_on_error=False)
            wall, cpu = time.perf_counter() - started, _cpu_s() - cpu
            steps = sampler.step_peaks(instance, result.run_id)
            peak = sampler.take_peak()
            figures = _figures(result)
            print(json.dumps({"day": day.isoformat(), "wall_s": wall, "peak_mb": peak,
                              "after_mb": _rss_mb(), "success": result.success,
                              "load": os.getloadavg()[0], "cpu_s": cpu,
                              "step_peak_mb": steps, **_memory_parts(), **figures}),
                  flush=True)
            del result
    sampler.stop()


def _cpu_s() -> float:
    """This process's CPU seconds so far (user + system, every thread): unlike the wall
    time, hardly moved by other work on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _days(days: int) -> Iterator[date]:
    return (START_DAY + timedelta(days=n) for n in range(days))


def _figures(result: Any) -> dict[str, Any]:
    """The run's own figures, from its materializations' metadata."""
    wanted = {"orders_extracted", "orders_in_window", "invoices_created", "invoices_read",
              "orders_dead_lettered"}
    found: dict[str, Any] = {}
    for event in result.get_asset_materialization_events():
        materialization = event.step_materialization_data.materialization
        step = "/".join(materialization.asset_key.path)
        for name, value in materialization.metadata.items():
            if name in wanted:
                found[f"{step}:{name}"] = getattr(value, "value", value)
    return found


# --- the driver ----------------------------------------------------------------------------


def _profiled(directory: str | None, name: str, main: Any, *args: Any) -> None:
    """Run `main(*args)`; when asked, sample every thread's stack every 5 ms meanwhile (the
    sandboxes answer on uvicorn's thread, which cProfile would not see) and write the
    functions most often running (self) and on the stack (inclusive) to
    `directory`/`name`.txt."""
    if directory is None:
        main(*args)
        return
    from collections import Counter

    idle = ("selectors.py:select", "threading.py:wait", "backfill_benchmark.py:sandbox_main",
            "backfill_benchmark.py:_run")  # waiting for work, not working
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    samples = 0
    stop = threading.Event()

    def where(code: Any) -> str:
        path = code.co_filename
        for marker in ("site-packages/", "integrations_pipelines/", "benchmarks/", "python3."):
            if marker in path:
                path = path[path.index(marker):]
                break
        return f"{path}:{code.co_name}"

    def sample() -> None:
        nonlocal samples
        while not stop.wait(0.005):
            for ident, frame in sys._current_frames().items():
                top = where(frame.f_code)
                if ident == sampler.ident or top.endswith(idle):
                    continue
                seen: set[str] = set()
                samples += 1
                leaf[top] += 1
                while frame is not None:
                    seen.add(where(frame.f_code))
                    frame = frame.f_back
                for item in seen:
                    inclusive[item] += 1

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        main(*args)
    finally:
        stop.set()
        sampler.join()
        Path(directory).mkdir(parents=True, exist_ok=True)
        lines = [f"{samples} busy-thread samples (5 ms)", "", "self:"]
        lines += [f"{n / samples:6.1%} {key}" for key, n in leaf.most_common(60)]
        lines += ["", "inclusive:"]
        lines += [f"{n / samples:6.1%} {key}" for key, n in inclusive.most_common(150)]
        (Path(directory) / f"{name}.txt").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="days backfilled, one run each")
    parser.add_argument("--orders-per-day", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--sandbox-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--backfill-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--dagster-url", help=argparse.SUPPRESS)
    parser.add_argument("--sandbox", help=argparse.SUPPRESS)
    parser.add_argument("--stop-at", metavar="HH:MM",
                        help="start no day after this UTC time (the days done are reported)")
    parser.add_argument("--profile", metavar="DIR",
                        help="sample both processes' stacks and write where the time goes "
                        "into DIR (backfill.txt, sandboxes.txt)")
    args = parser.parse_args()
    if args.sandbox_child:
        _profiled(args.profile, "sandboxes", sandbox_main, args.days, args.orders_per_day,
                  args.seed)
        return
    if args.backfill_child:
        _profiled(args.profile, "backfill", backfill_main, args.days, args.database_url,
                  args.dagster_url, json.loads(args.sandbox), _stop_at(args.stop_at))
        return

    from integrations_pipelines import local_postgres
    from integrations_pipelines.state.db import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="backfill-bench-"))  # under /tmp: see local_postgres
    server = sandboxes = None
    rows: list[dict[str, Any]] = []
    try:
        server, pg_base = local_postgres.start_embedded(tmp / "pgdata")
        store_url = local_postgres.ensure_database(pg_base, "backfill_store")
        upgrade(store_url)
        dagster_url = local_postgres.ensure_database(pg_base, "backfill_dagster")
        sandboxes = Sandboxes(args.days, args.orders_per_day, args.seed, args.profile)
        print(f"sandboxes: {args.orders_per_day:,} orders a day over {args.days} days from "
              f"{START_DAY} (seed {args.seed}; each day generated when first queried, the "
              f"first in {sandboxes.info['generated_s']:.0f} s); throttling off", flush=True)
        started = time.perf_counter()
        log = (tmp / "runs.log").open("w")  # the runs' Dagster log, shown if one fails
        child = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--backfill-child",
             "--days", str(args.days), "--database-url", store_url,
             "--dagster-url", dagster_url, "--sandbox", json.dumps(sandboxes.info),
             *(["--stop-at", args.stop_at] if args.stop_at else []),
             *(["--profile", args.profile] if args.profile else [])],
            stdout=subprocess.PIPE, stderr=log, text=True, cwd=ROOT)
        assert child.stdout is not None
        print(f"{'day':>4} {'date':10} {'wall s':>7} {'peak MB':>8} {'after MB':>9} "
              f"{'orders':>7} {'created':>8} {'dead':>5} {'read back':>9} {'ok':>3} {'load':>5} "
              f"{'cpu s':>6}",
              flush=True)
        for line in child.stdout:
            row = json.loads(line)
            rows.append(row)
            print(f"{len(rows):>4} {row['day']:10} {row['wall_s']:>7.1f} {row['peak_mb']:>8.1f} "
                  f"{row['after_mb']:>9.1f} "
                  f"{row.get('shopify/orders:orders_extracted', 0):>7,} "
                  f"{row.get('shopify_to_quickbooks/invoice_sync:invoices_created', 0):>8,} "
                  f"{row.get('shopify_to_quickbooks/invoice_sync:orders_dead_lettered', 0):>5,} "
                  f"{row.get('quickbooks/invoices:invoices_read', 0):>9,} "
                  f"{'yes' if row['success'] else 'NO':>3} {row.get('load', 0):>5.1f} "
                  f"{row.get('cpu_s', 0):>6.1f}",
                  flush=True)
        log.close()
        if child.wait() != 0 or not all(r["success"] for r in rows):
            print((tmp / "runs.log").read_text()[-6000:], file=sys.stderr)
        if child.returncode != 0:
            raise RuntimeError(f"the backfill process failed ({child.returncode})")
        total = time.perf_counter() - started
        sandbox_mb = sandboxes.rss_mb()
    finally:
        if sandboxes is not None:
            sandboxes.stop()
        if server is not None:
            server.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, rows, total, sandbox_mb)


def report(args: argparse.Namespace, rows: list[dict[str, Any]], total: float,
           sandbox_mb: float) -> None:
    peaks = [r["peak_mb"] for r in rows]
    walls = [r["wall_s"] for r in rows]
    edge = min(EDGE_DAYS, max(1, (len(rows) - 1) // 2))
    first, last = rows[1:1 + edge] or rows[:1], rows[-edge:]
    baseline = max(r["peak_mb"] for r in first)
    end = max(r["peak_mb"] for r in last)
    orders = sum(r.get("shopify/orders:orders_extracted", 0) for r in rows)
    print()
    print(f"{len(rows)} days x {args.orders_per_day:,} orders a day ({orders:,} orders "
          f"extracted), one run per day in one process: {total:.0f} s, "
          f"{sum(walls) / len(walls):.1f} s a day (first {walls[0]:.1f} s, median "
          f"{sorted(walls)[len(walls) // 2]:.1f} s, last {walls[-1]:.1f} s); runs failed: "
          f"{sum(1 for r in rows if not r['success'])}")
    print(f"backfill process RSS: day 1 peak {rows[0]['peak_mb']:.0f} MB; peak of days "
          f"2-{1 + len(first)} {baseline:.0f} MB (baseline); peak of the last {len(last)} days "
          f"{end:.0f} MB; overall peak {max(peaks):.0f} MB (on day {peaks.index(max(peaks)) + 1})")
    print(f"ratio, last days' peak / baseline: {end / baseline:.3f} (1.0: no growth with days)")
    cpus = sorted(r.get("cpu_s", 0.0) for r in rows)
    print(f"our process's CPU per day: median {cpus[len(cpus) // 2]:.1f} s "
          f"({cpus[len(cpus) // 2] * 1000 / max(args.orders_per_day, 1):.1f} ms an order)")
    loads = sorted(r.get("load", 0.0) for r in rows)
    print(f"the machine's load (1-minute average, {os.cpu_count()} CPUs) at the end of each "
          f"day: median {loads[len(loads) // 2]:.1f}, {loads[0]:.1f} to {loads[-1]:.1f}")
    if len(rows) < args.days:
        print(f"stopped after {len(rows)} of {args.days} days (--stop-at {args.stop_at})")
    if "malloc_free_mb" in rows[-1]:
        def change(key: str) -> float:
            return (sum(r.get(key, 0.0) for r in last) / len(last)
                    - sum(r.get(key, 0.0) for r in first) / len(first))
        print(f"after a run, last days vs baseline days (mean): RSS {change('after_mb'):+.1f} MB; "
              f"Python objects {change('gc_objects'):+,.0f}, small blocks "
              f"{change('py_blocks'):+,.0f}; malloc in use {change('malloc_used_mb'):+.1f} MB, "
              f"free but kept {change('malloc_free_mb'):+.1f} MB; main heap "
              f"{change('heap_mb'):+.1f} MB, other anonymous {change('anon_mb'):+.1f} MB")
    print(f"sandboxes' process (not ours) at the end: {sandbox_mb:.0f} MB")
    last_steps = rows[-1].get("step_peak_mb", {})
    print("peak RSS while each step ran, last day: " + ", ".join(
        f"{step} {mb:.0f} MB" for step, mb in last_steps.items()))


if __name__ == "__main__":
    main()
