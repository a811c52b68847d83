"""What `integrations-pipelines dev` prints is what a newcomer acts on: the daemon's
per-tick sensor chatter and the runs' step-by-step DEBUG events stay out of the terminal
(they stay in the UI), warnings and errors stay in, and Dagster's "superseded by dg dev"
warning is not printed on every start. Real `dagster dev`, real PostgreSQL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import httpx
import pytest
import yaml

from integrations_pipelines import local_postgres
from integrations_pipelines.dev_environment import (
    choose_port,
    dagster_command,
    dev_dagster_home,
    prepare_pools,
)
from integrations_pipelines.settings import dagster_storage_url

ROOT = Path(__file__).resolve().parents[1]

SENSORS = '''
import dagster as dg


@dg.sensor(minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def quiet_sensor(context):
    return dg.SkipReason("nothing new")


@dg.sensor(minimum_interval_seconds=1, default_status=dg.DefaultSensorStatus.RUNNING)
def broken_sensor(context):
    raise RuntimeError("the sensor broke")


defs = dg.Definitions(sensors=[quiet_sensor, broken_sensor])
'''

TICKS = """
query { sensorOrError(sensorSelector: {repositoryName: "__repository__",
    repositoryLocationName: "tiny", sensorName: "quiet_sensor"}) {
  ... on Sensor { sensorState { ticks(limit: 10) { status } } } } }"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_taken_port_gives_way_to_a_free_one() -> None:
    """A second `dev` (or any server on 3000/3010) never stops `dev` from starting."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        other = choose_port("127.0.0.1", busy)
        assert other != busy and other > 0
    assert choose_port("127.0.0.1", busy) == busy  # free again: the stable address


@pytest.fixture
def dev_instance_env(pg_base_url: str, tmp_path: Path, monkeypatch) -> Iterator[Path]:
    """dev's Dagster home (dev's copy of the project's dagster.yaml) on a fresh database."""
    name = f"dagster_devlog_{os.getpid()}_{time.monotonic_ns()}"
    url = dagster_storage_url(local_postgres.ensure_database(pg_base_url, name))
    monkeypatch.setenv("DAGSTER_PG_URL", url)
    yield dev_dagster_home(tmp_path / ".dev", ROOT / "dagster.yaml")
    local_postgres.drop_database(pg_base_url, name)


def test_dev_adds_its_log_level_and_leaves_the_projects_dagster_yaml_alone(tmp_path) -> None:
    source = ROOT / "dagster.yaml"
    before = source.read_text()
    home = dev_dagster_home(tmp_path / ".dev", source)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["python_logs"] == {"python_log_level": "INFO"}
    assert {k: v for k, v in config.items() if k != "python_logs"} == yaml.safe_load(before)
    assert source.read_text() == before  # docker-compose's configuration is unchanged


def test_a_run_in_dev_prints_its_info_and_warnings_not_its_debug_events(dev_instance_env,
                                                                        capfd) -> None:
    @dg.op
    def talk(context) -> None:  # type: ignore[no-untyped-def]
        context.log.info("three invoices synced")
        context.log.warning("one order dead-lettered")

    @dg.job
    def chatty() -> None:
        talk()

    with dg.DagsterInstance.from_config(str(dev_instance_env)) as instance:
        result = chatty.execute_in_process(instance=instance)
        printed = "".join(capfd.readouterr())
        assert "three invoices synced" in printed and "one order dead-lettered" in printed
        assert "STEP_START" not in printed and "STEP_SUCCESS" not in printed
        stored = {e.dagster_event.event_type_value for e in instance.all_logs(result.run_id)
                  if e.dagster_event}
        assert {"STEP_START", "STEP_SUCCESS"} <= stored  # the UI has them all


def test_dev_creates_every_pool_before_the_first_run(dev_instance_env) -> None:
    """Two steps claiming a new pool at once collide in Dagster's PostgreSQL storage (a
    UniqueViolation failed one of dev's first runs): dev creates the pools first."""
    pools = prepare_pools({"DAGSTER_HOME": str(dev_instance_env),
                           "DAGSTER_PG_URL": os.environ["DAGSTER_PG_URL"]})
    assert {"shopify", "quickbooks", "stripe", "warehouse", "xero"} <= set(pools)
    with dg.DagsterInstance.from_config(str(dev_instance_env)) as instance:
        assert set(pools) <= instance.event_log_storage.get_concurrency_keys()
        limits = {pool: instance.event_log_storage.get_concurrency_info(pool).slot_count
                  for pool in pools}
    assert set(limits.values()) == {2}  # dagster.yaml's default pool limit


@pytest.mark.slow
def test_dagster_dev_prints_sensor_errors_but_not_their_ticks(dev_instance_env,
                                                              tmp_path) -> None:
    (tmp_path / "tiny_defs.py").write_text(SENSORS)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(yaml.safe_dump({"load_from": [{"python_file": {
        "relative_path": "tiny_defs.py", "location_name": "tiny"}}]}))
    port = _free_port()
    output = tmp_path / "dagster.log"
    env = {**os.environ, "DAGSTER_HOME": str(dev_instance_env)}
    with output.open("w") as sink:
        process = subprocess.Popen(dagster_command(workspace, "127.0.0.1", port), env=env,
                                   cwd=tmp_path, stdout=sink, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        ticks: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if "broken_sensor" in output.read_text() and ticks.count("SKIPPED") >= 2:
                break
            time.sleep(2)
            try:
                answer = httpx.post(f"http://127.0.0.1:{port}/graphql",
                                    json={"query": TICKS}, timeout=5).json()
                state = answer["data"]["sensorOrError"].get("sensorState") or {}
                ticks = [t["status"] for t in state.get("ticks") or []]
            except (httpx.HTTPError, KeyError, TypeError):
                continue
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    printed = output.read_text()
    assert ticks.count("SKIPPED") >= 2, ticks  # the quiet sensor did tick, quietly
    assert "Sensor daemon caught an error for sensor broken_sensor" in printed
    assert "the sensor broke" in printed
    assert "quiet_sensor" not in printed
    assert "Checking for new runs for sensor" not in printed
    assert "superseded" not in printed and "dg dev" not in printed


STUBBORN_CHILD = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import signal, time; "
                  "signal.signal(signal.SIGINT, signal.SIG_IGN); print('ready', flush=True); "
                  "time.sleep(600)"])
time.sleep(600)
"""


def _group_gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


def test_stopping_dagster_stops_the_processes_it_started() -> None:
    """A run's worker left behind after Ctrl-C kept retrying PostgreSQL once dev had stopped
    it; dev stops dagster's whole process group, killing what ignores the interrupt."""
    from integrations_pipelines.dev_environment import stop_process_group

    leader = subprocess.Popen([sys.executable, "-c", STUBBORN_CHILD], stdout=subprocess.PIPE,
                              start_new_session=True)
    assert leader.stdout is not None
    assert leader.stdout.readline() == b"ready\n"  # the child is up, and ignores SIGINT
    assert stop_process_group(leader, grace_s=2) is False  # it took a SIGKILL
    assert _group_gone(leader.pid)

    # Python's own SIGINT handling, whatever this test inherited (a shell's background job
    # starts with SIGINT ignored, and Python then keeps ignoring it)
    polite = subprocess.Popen(
        [sys.executable, "-c", "import signal, time; "
         "signal.signal(signal.SIGINT, signal.default_int_handler); "
         "print('ready', flush=True); time.sleep(600)"],
        stdout=subprocess.PIPE, start_new_session=True)
    assert polite.stdout is not None
    assert polite.stdout.readline() == b"ready\n"
    assert stop_process_group(polite, grace_s=10) is True  # SIGINT was enough
    assert _group_gone(polite.pid)
