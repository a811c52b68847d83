"""The deployment of docker-compose.yml, started as it runs (without Docker, which this
machine lacks): PostgreSQL, the user-code gRPC server, the webserver and the daemon as
separate processes with the compose services' own commands, the repository's dagster.yaml,
and docker/workspace.yaml pointing at the gRPC server. A nightly run launched through the
webserver goes through the daemon's queue against the vendor sandboxes; its checks run and
the failed ones reach the fake Slack through the daemon's sensor. The webserver's GraphQL API
shows what the README says the UI shows: the asset graph, the partitions, the schedule and
sensors running, the checks' results."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from integrations_pipelines import local_postgres
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.settings import dagster_storage_url
from integrations_pipelines_tests.builders import booked_invoice

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DAY = "2026-11-04"
LOCATION = {"repositoryLocationName": "integrations_pipelines",
            "repositoryName": "__repository__"}
CONFLICT_CHECK = "doc_numbers_free_of_foreign_invoices"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _compose_command(service: str) -> list[str]:
    """The service's command in docker-compose.yml, split as the shell would."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"][service][
        "command"]
    return shlex.split(command) if isinstance(command, str) else list(command)


def _local(argv: list[str], ports: dict[str, str]) -> list[str]:
    """The compose command on this machine: our virtualenv's executables, loopback, and
    free ports instead of the containers' fixed ones."""
    out = []
    for arg in argv:
        arg = ports.get(arg, arg)
        out.append(str(BIN / arg) if (BIN / arg).exists() else arg)
    return ["127.0.0.1" if a == "0.0.0.0" else a for a in out]


class Deployment:
    """The started processes and how to talk to the webserver."""

    def __init__(self, ui: str, env: dict[str, str], logs: Path) -> None:
        self.ui, self.env, self.logs = ui, env, logs

    def graphql(self, query: str, **variables: Any) -> dict[str, Any]:
        response = httpx.post(f"{self.ui}/graphql",
                              json={"query": query, "variables": variables}, timeout=30)
        assert response.is_success, (response.status_code, response.text[:2000])
        answer = response.json()
        assert "errors" not in answer, answer
        data: dict[str, Any] = answer["data"]
        return data

    def wait(self, what: str, probe: Any, timeout_s: float = 240) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = probe()
            if found:
                return found
            time.sleep(1)
        tails = {p.name: p.read_text()[-3000:] for p in self.logs.glob("*.log")}
        raise AssertionError(f"timed out waiting for {what}; logs: {tails}")


@pytest.fixture
def deployment(pg_base_url: str, shop_sandbox: Any, qbo_sandbox: Any, slack: Any,
               tmp_path: Path) -> Iterator[Deployment]:
    name = f"deploy_{uuid.uuid4().hex[:12]}"
    url = local_postgres.ensure_database(pg_base_url, name)  # one database, as in compose
    orders = generate_shop(seed=41, start=date.fromisoformat(DAY), days=1,
                           orders_per_day=15)
    shop_server, shop = shop_sandbox(orders)
    qbo_server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})
    # Someone typed an invoice with our first order's DocNumber: the conflict check warns.
    books.insert_invoice_raw(booked_invoice(
        f"S{orders[0]['order_number']}", 99.0, TxnDate=DAY, SyncToken="0", Line=[],
        CustomerRef={"value": "1", "name": "Legacy Customer"}, PrivateNote="by hand"))
    slack_server, slack_store = slack
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    app = tmp_path / "app"  # the image's working directory: the workspace file beside it
    app.mkdir()
    grpc_port, ui_port = _free_port(), _free_port()
    workspace = yaml.safe_load((ROOT / "docker" / "workspace.yaml").read_text())
    server = workspace["load_from"][0]["grpc_server"]
    server.update(host="127.0.0.1", port=grpc_port)
    (app / "workspace.yaml").write_text(yaml.safe_dump(workspace))
    env = {**os.environ, "DAGSTER_HOME": str(home), "DAGSTER_PG_URL": dagster_storage_url(url),
           "DATABASE_URL": url, "DAGSTER_UI_URL": f"http://127.0.0.1:{ui_port}",
           "SHOPIFY_BASE_URL": shop_server.url, "SHOPIFY_ACCESS_TOKEN": shop.access_token,
           "QBO_BASE_URL": qbo_server.url,
           "QBO_TOKEN_URL": f"{qbo_server.url}/oauth2/v1/tokens/bearer",
           "QBO_CLIENT_ID": books.tokens.client_id,
           "QBO_CLIENT_SECRET": books.tokens.client_secret, "QBO_REALM_ID": books.realm_id,
           "QBO_REFRESH_TOKEN": books.tokens.current_refresh_token,
           "SLACK_BOT_TOKEN": slack_store.bot_token,
           "SLACK_API_BASE_URL": slack_store.api_url(slack_server.url)}
    ports = {"4000": str(grpc_port), "3000": str(ui_port)}
    user_code = _compose_command("user_code")  # sh -c "db upgrade && dagster api grpc ..."
    assert user_code[:2] == ["sh", "-c"]
    steps = [shlex.split(part) for part in user_code[2].split("&&")]
    logs = tmp_path / "logs"
    logs.mkdir()
    started: list[subprocess.Popen[bytes]] = []

    def start(label: str, argv: list[str]) -> None:
        out = (logs / f"{label}.log").open("wb")
        started.append(subprocess.Popen(argv, cwd=app, env=env, stdout=out,
                                        stderr=subprocess.STDOUT))

    try:
        subprocess.run(_local(steps[0], ports), cwd=app, env=env, check=True,
                       capture_output=True)
        start("user_code", _local(steps[1], ports))
        start("webserver", _local(_compose_command("webserver"), ports))
        start("daemon", _local(_compose_command("daemon"), ports))
        deployed = Deployment(f"http://127.0.0.1:{ui_port}", env, logs)

        def up() -> bool:
            try:
                return httpx.get(f"{deployed.ui}/server_info", timeout=2).is_success
            except httpx.HTTPError:
                return False

        deployed.wait("the webserver", up, timeout_s=180)
        deployed.wait("the code location, served by the gRPC server", lambda: any(
            entry["locationOrLoadError"]["__typename"] == "RepositoryLocation"
            for entry in deployed.graphql(WORKSPACE)["workspaceOrError"]["locationEntries"]
            if entry["locationOrLoadError"]), timeout_s=180)
        yield deployed
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        local_postgres.drop_database(pg_base_url, name)


WORKSPACE = """{ workspaceOrError { ... on Workspace { locationEntries {
  name locationOrLoadError { __typename } } } } }"""
SENSOR = """query($selector: SensorSelector!) { sensorOrError(sensorSelector: $selector) {
  __typename ... on Sensor { sensorState { status ticks(limit: 1) { status } } } } }"""
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""
STEPS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { stepStats { stepKey status }
  } } }"""
RUN = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""
GRAPH = """{ assetNodes { assetKey { path } isPartitioned }
  schedulesOrError(repositorySelector: {repositoryLocationName: "integrations_pipelines",
                                        repositoryName: "__repository__"}) {
    ... on Schedules { results { name scheduleState { status } } } }
  sensorsOrError(repositorySelector: {repositoryLocationName: "integrations_pipelines",
                                      repositoryName: "__repository__"}) {
    ... on Sensors { results { name sensorState { status } } } } }"""
CHECKS = """query($key: AssetKeyInput!) { assetNodes(assetKeys: [$key]) {
  assetChecksOrError { ... on AssetChecks { checks { name
    executionForLatestMaterialization { status evaluation { severity metadataEntries {
      label } } } } } } } }"""


def test_the_compose_topology_runs_a_night_through_the_daemon(deployment, slack) -> None:
    _, slack_store = slack
    graph = deployment.graphql(GRAPH)
    assets = {"/".join(n["assetKey"]["path"]): n["isPartitioned"] for n in graph["assetNodes"]}
    assert {k: assets[k] for k in ("shopify/orders", "shopify_to_quickbooks/invoice_sync",
                                   "quickbooks/invoices")} == dict.fromkeys(
        ("shopify/orders", "shopify_to_quickbooks/invoice_sync", "quickbooks/invoices"), True)
    schedules = {s["name"]: s["scheduleState"]["status"]
                 for s in graph["schedulesOrError"]["results"]}
    assert schedules["shopify_to_quickbooks_job_schedule"] == "RUNNING"
    sensors = {s["name"]: s["sensorState"]["status"] for s in graph["sensorsOrError"]["results"]}
    assert sensors["asset_check_alert_sensor"] == sensors["run_failure_alert_sensor"] == "RUNNING"

    selector = {**LOCATION, "sensorName": "asset_check_alert_sensor"}
    deployment.wait("the alert sensor's first tick (it arms)", lambda: deployment.graphql(
        SENSOR, selector=selector)["sensorOrError"]["sensorState"]["ticks"])

    launched = deployment.graphql(LAUNCH, params={
        "selector": {**LOCATION, "jobName": "shopify_to_quickbooks_job"},
        "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
    })["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    status = deployment.wait("the run to finish", lambda: (
        s if (s := deployment.graphql(RUN, id=run_id)["runOrError"]["status"])
        in ("SUCCESS", "FAILURE", "CANCELED") else None))
    # The typed invoice holds the order's DocNumber with another total: the order is a dead
    # letter (destination_conflict) and the books disagree with Shopify, so the blocking
    # reconciliation stops the run at the read-back.
    steps = {s["stepKey"]: s["status"] for s in
             deployment.graphql(STEPS, id=run_id)["runOrError"]["stepStats"]}
    assert status == "FAILURE" and steps["quickbooks__invoices"] == "FAILURE", steps
    assert steps["shopify__orders"] == steps["shopify_to_quickbooks__invoice_sync"] == "SUCCESS"

    checks = deployment.graphql(CHECKS, key={"path": ["shopify_to_quickbooks",
                                                      "invoice_sync"]})
    [node] = checks["assetNodes"]
    results = {c["name"]: c["executionForLatestMaterialization"]
               for c in node["assetChecksOrError"]["checks"]}
    assert results["every_order_synced_or_dead_lettered"]["status"] == "SUCCEEDED"
    conflict = results[CONFLICT_CHECK]
    assert conflict["status"] == "FAILED" and conflict["evaluation"]["severity"] == "WARN"
    assert "conflicts" in {m["label"] for m in conflict["evaluation"]["metadataEntries"]}

    reconciled = deployment.graphql(CHECKS, key={"path": ["quickbooks", "invoices"]})
    [node] = reconciled["assetNodes"]
    shown = {c["name"]: (c["executionForLatestMaterialization"] or {}).get("status")
             for c in node["assetChecksOrError"]["checks"]}
    assert shown["invoices_match_shopify_orders"] == "FAILED"
    # Every check of the read-back ran in its step and says what it found: none reads
    # "Execution failed" (or "Skipped") for a check that simply did not run.
    assert set(shown) == {"invoices_match_shopify_orders", "every_synced_order_has_one_invoice",
                          "invoices_keep_up_with_orders", "no_contract_drift"}
    assert set(shown.values()) <= {"SUCCEEDED", "FAILED"}, shown
    assert shown["no_contract_drift"] == "SUCCEEDED"

    def alerted() -> list[Any]:
        texts = [m.text or "" for m in slack_store.messages]
        return texts if all(any(check in t for t in texts) for check in (
            CONFLICT_CHECK, "invoices_match_shopify_orders")) else []

    texts = deployment.wait("both alerts in Slack, through the daemon's sensor", alerted,
                            timeout_s=120)
    assert all(f"for {DAY}" in t for t in texts)
    assert {m.channel_name for m in slack_store.messages} == {"#finance-integrations"}
