"""docker-compose.yml cannot run here (no Docker), so check what can be checked: it parses,
it has the four services of a Dagster deployment and the webhook receiver, every service and
file it names exists, and every environment variable it sets is one the project (or its
dagster.yaml) reads."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _project_text() -> str:
    sources = [*(ROOT / "integrations_pipelines").rglob("*.py"), ROOT / "dagster.yaml"]
    return "\n".join(p.read_text() for p in sources)


def test_services_and_their_references_exist():
    compose = _compose()
    services = compose["services"]
    assert set(services) == {"postgres", "user_code", "webserver", "daemon", "receiver"}
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"]
    build = services["user_code"]["build"]
    dockerfile = ROOT / build["context"] / build["dockerfile"]
    assert dockerfile.is_file()
    for line in dockerfile.read_text().splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
    workspace = yaml.safe_load((ROOT / "docker/workspace.yaml").read_text())
    [location] = workspace["load_from"]
    assert location["grpc_server"]["host"] == "user_code"
    assert f"--port {location['grpc_server']['port']}" in services["user_code"]["command"]
    for name in ("webserver", "daemon"):
        assert services[name]["image"] == services["user_code"]["image"]
        assert "-w workspace.yaml" in services[name]["command"]


def test_every_environment_variable_is_read_by_the_project():
    project = _project_text()
    postgres_own = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    for name, service in _compose()["services"].items():
        env = service.get("environment", {})
        for variable in env:
            if name == "postgres":
                assert variable in postgres_own
                continue
            assert re.search(rf"\b{variable}\b", project), f"{name} sets unused {variable}"


def test_dagster_yaml_settings_are_provided_to_every_dagster_service():
    wanted = set(re.findall(r"env: (\w+)", (ROOT / "dagster.yaml").read_text()))
    assert wanted == {"DAGSTER_PG_URL"}
    for name in ("user_code", "webserver", "daemon"):
        env = _compose()["services"][name]["environment"]
        assert wanted <= set(env), name
        assert env["DAGSTER_PG_URL"].startswith("postgresql+psycopg2://")
