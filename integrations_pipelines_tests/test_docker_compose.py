"""docker-compose.yml cannot run here (no Docker), so check everything a wrong compose file
would get wrong before a container starts: every image is built or pinned and every
Dockerfile and file it copies exists; every `depends_on` names a service (with a
healthcheck when it waits for health); every setting the code requires is given to the
services that run that code; every command is one the installed tools accept, naming a
module that exists; the workspace the webserver and daemon load names the user-code
server's host and port; published ports do not collide and reach the port the command
listens on; and Dagster's storage and the integration store point at the postgres service
with its own user, password and database.

`compose_problems` reports what is wrong rather than asserting, so the last test can show
that each check fails on a deliberately broken copy."""

from __future__ import annotations

import contextlib
import copy
import io
import posixpath
import re
import shlex
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
import yaml

from integrations_pipelines import cli

ROOT = Path(__file__).resolve().parents[1]
# What the webserver and daemon load (`-w workspace.yaml`): the Dockerfile copies it there.
WORKSPACE = "docker/workspace.yaml"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dagster"]
SETTINGS = (ROOT / "integrations_pipelines" / "settings.py").read_text()
# Read by `_require`: the code stops with MissingSetting when one is unset or empty.
REQUIRED = set(re.findall(r'_require\(\s*"(\w+)"', SETTINGS))
WEBHOOK_SECRETS = set(re.findall(r'_secrets\(\s*"(\w+)"', SETTINGS))


def _load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def _compose() -> dict:
    return _load("docker-compose.yml")


def _project_text() -> str:
    sources = [*(ROOT / "integrations_pipelines").rglob("*.py"), ROOT / "dagster.yaml"]
    return "\n".join(p.read_text() for p in sources)


# Reading a compose file ------------------------------------------------------------------

_VARIABLE = re.compile(r"\$(?:(\$)|\{(\w+)(?:(:?[-?])([^}]*))?\}|(\w+))")


def interpolate(value: Any) -> tuple[str, set[str]]:
    """A value as compose resolves it with an empty environment, and the variables the
    operator must set (`${X:?...}`: compose refuses to start without them), which stand in
    the text as `<X>`."""
    needed: set[str] = set()

    def one(match: re.Match[str]) -> str:
        if match.group(1):
            return "$"
        name = match.group(2) or match.group(5)
        operator, argument = match.group(3) or "", match.group(4) or ""
        if operator.endswith("?"):
            needed.add(name)
            return f"<{name}>"
        return argument if operator.endswith("-") else ""

    return _VARIABLE.sub(one, "" if value is None else str(value)), needed


def _environment(service: Mapping[str, Any]) -> dict[str, Any]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        return dict(item.split("=", 1) if "=" in item else (item, None) for item in env)
    return dict(env)


def _commands(service: Mapping[str, Any]) -> list[list[str]]:
    """The programs a service runs, each as its argv (`sh -c "a && b"` is two)."""
    command = service.get("command")
    if command is None:
        return []
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
    if argv[:2] == ["sh", "-c"] and len(argv) == 3:
        return [shlex.split(part) for part in re.split(r"&&|;|\|\|", argv[2]) if part.strip()]
    return [argv]


def _option(argv: list[str], *names: str) -> str | None:
    for index, arg in enumerate(argv):
        for name in names:
            if arg == name and index + 1 < len(argv):
                return argv[index + 1]
            if arg.startswith(f"{name}="):
                return arg.split("=", 1)[1]
    return None


def _runs(service: Mapping[str, Any], *program: str) -> list[list[str]]:
    return [argv for argv in _commands(service) if argv[: len(program)] == list(program)]


def _depends_on(service: Mapping[str, Any]) -> dict[str, dict]:
    found = service.get("depends_on") or {}
    return {name: {} for name in found} if isinstance(found, list) else dict(found)


def _published(service: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    """(host port, container port) of each published port."""
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            published = entry.get("published")
            yield (None if published is None else str(published)), str(entry["target"])
        else:
            parts = interpolate(entry)[0].split("/")[0].split(":")
            yield (parts[-2] if len(parts) > 1 else None), parts[-1]


def _dockerfile(service: Mapping[str, Any]) -> tuple[Path, Path] | None:
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        build = {"context": build}
    context = ROOT / build.get("context", ".")
    return context, context / build.get("dockerfile", "Dockerfile")


@dataclass
class Image:
    """What a Dockerfile puts in its image: the files it copies (absolute path in the image
    -> source in the build context), its ENV and its final WORKDIR."""

    copies: dict[str, str] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    workdir: str = "/"

    def path(self, relative: str) -> str:
        return posixpath.normpath(posixpath.join(self.workdir, relative))


def _read_image(dockerfile: Path) -> Image:
    image = Image()

    def expand(text: str) -> str:
        return re.sub(r"\$\{?(\w+)\}?", lambda m: image.env.get(m.group(1), m.group(0)), text)

    for line in dockerfile.read_text().splitlines():
        words = shlex.split(line, comments=True) if line.strip() else []
        if not words:
            continue
        instruction, args = words[0].upper(), words[1:]
        if instruction == "ENV":
            image.env.update(a.split("=", 1) for a in args if "=" in a)
        elif instruction == "WORKDIR" and args:
            image.workdir = image.path(expand(args[0]))
        elif instruction in {"COPY", "ADD"}:
            if any(a.startswith("--from") for a in args):
                continue  # from another build stage, not the context
            args = [a for a in args if not a.startswith("--")]
            *sources, destination = args
            destination = expand(destination)
            for source in sources:
                image.sources.append(source)
                target = (posixpath.join(destination, posixpath.basename(source))
                          if destination.endswith("/") or len(sources) > 1 or
                          destination in {".", "./"} else destination)
                image.copies[image.path(target)] = posixpath.normpath(source)
    return image


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def _module_exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _cli_accepts(argv: list[str]) -> str | None:
    """Why the project's console script would refuse these arguments (None: it accepts
    them). The command's own function is replaced, so nothing runs."""
    commands = {name: mock.Mock(return_value=0) for name in dir(cli) if name.startswith("_cmd_")}
    errors = io.StringIO()
    with contextlib.ExitStack() as stack:
        for name, fake in commands.items():
            stack.enter_context(mock.patch.object(cli, name, fake))
        stack.enter_context(contextlib.redirect_stderr(errors))
        stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
        try:
            cli.main(argv)
        except SystemExit as exc:
            return errors.getvalue().strip().splitlines()[-1] if exc.code else None
    return None if any(f.called for f in commands.values()) else "no command ran"


# The checks ------------------------------------------------------------------------------


def compose_problems(compose: Mapping[str, Any], workspace: Mapping[str, Any],
                     dagster_yaml: Mapping[str, Any]) -> list[str]:
    """Everything wrong with a compose file (with the workspace its Dagster services load
    and the dagster.yaml baked into its image); empty when nothing is."""
    problems: list[str] = []
    services: dict[str, dict] = dict(compose.get("services") or {})
    volumes = set(compose.get("volumes") or {})

    grpc = {name: argv for name, s in services.items() for argv in _runs(s, "dagster", "api",
                                                                             "grpc")}
    dagster = {name for name, s in services.items()
               if name in grpc or _runs(s, "dagster-webserver") or _runs(s, "dagster-daemon")}
    postgres = [name for name, s in services.items()
                if str(s.get("image", "")).split(":")[0] in {"postgres", "library/postgres"}]
    if len(postgres) != 1:
        problems.append(f"expected one postgres service, found {postgres}")
    if not grpc:
        problems.append("no service serves the code location (dagster api grpc)")
    built = {s.get("image") for s in services.values() if s.get("build")}

    for name, service in services.items():
        # What it runs: an image this file builds, or a pinned one from a registry.
        image = service.get("image")
        located = _dockerfile(service)
        if located is None and image is None:
            problems.append(f"{name} has neither build nor image")
        elif located is None and image not in built:
            tag = str(image).rsplit(":", 1)[1] if ":" in str(image).split("/")[-1] else ""
            if tag in {"", "latest"}:
                problems.append(f"{name} uses image {image}, which is not built here "
                                "and not pinned to a version")
        if located is not None:
            context, dockerfile = located
            if not context.is_dir():
                problems.append(f"{name} builds from missing context {context}")
            elif not dockerfile.is_file():
                problems.append(f"{name} has no Dockerfile at {_shown(dockerfile)}")
            else:
                for source in _read_image(dockerfile).sources:
                    if "$" not in source and not (context / source).exists():
                        problems.append(f"{_shown(dockerfile)} copies missing {source}")
        contents = _image_of(services, image)
        if name in dagster and contents is not None:
            home = contents.env.get("DAGSTER_HOME")
            if home is None:
                problems.append(f"{name}'s image sets no DAGSTER_HOME")
            elif contents.copies.get(posixpath.join(home, "dagster.yaml")) != "dagster.yaml":
                problems.append(f"{name}'s image has no dagster.yaml in DAGSTER_HOME ({home}): "
                                "Dagster would keep runs in a temporary directory")

        # What it waits for.
        for dependency, options in _depends_on(service).items():
            if dependency not in services or dependency == name:
                problems.append(f"{name} depends on unknown service {dependency}")
            elif ((options or {}).get("condition") == "service_healthy"
                  and not services[dependency].get("healthcheck")):
                problems.append(f"{name} waits for {dependency} to be healthy, "
                                f"but {dependency} has no healthcheck")
        if name in dagster - set(grpc):
            for server in grpc:
                if server not in _depends_on(service):
                    problems.append(f"{name} does not depend on the code server {server}")
        for volume in service.get("volumes") or []:
            source = (volume.get("source") if isinstance(volume, dict)
                      else str(volume).split(":")[0])
            if source and not source.startswith((".", "/", "~", "$")) and source not in volumes:
                problems.append(f"{name} mounts undeclared volume {source}")

        # What it needs to be told.
        env = _environment(service)
        needs: set[str] = set()
        if name in grpc:  # runs, sensors and schedules execute in the code server
            needs |= REQUIRED
        if name in dagster:
            needs |= _storage_variables(dagster_yaml)
        if _runs(service, "integrations-pipelines"):
            needs.add("DATABASE_URL")
        for variable in sorted(needs):
            if variable not in env:
                problems.append(f"{name} does not provide {variable}")
                continue
            text, required = interpolate(env[variable])
            if not text.strip() and not required:
                problems.append(f"{name} provides {variable}, but it may be empty")
        if _runs(service, "integrations-pipelines", "webhooks", "serve"):
            problems += [f"{name} does not provide {v}" for v in sorted(WEBHOOK_SECRETS - set(env))]

        # What it runs, and where it listens.
        listening = set()
        for argv in _commands(service):
            if argv[0] == "integrations-pipelines":
                refused = _cli_accepts(argv[1:])
                if refused:
                    problems.append(f"{name}: `{shlex.join(argv)}` is refused: {refused}")
                listening.add(_option(argv, "--port") or "8080")
            elif argv[:3] == ["dagster", "api", "grpc"]:
                module = _option(argv, "--module-name", "-m")
                file = _option(argv, "--python-file", "-f")
                if module is None and file is None:
                    problems.append(f"{name}: the code server names no module or file")
                if module is not None and not _module_exists(module):
                    problems.append(f"{name}: the code server loads {module}, no module here")
                if module is not None and module != PYPROJECT["module_name"]:
                    problems.append(f"{name} loads {module}, pyproject's [tool.dagster] "
                                    f"names {PYPROJECT['module_name']}")
                if file is not None and not (ROOT / file).is_file():
                    problems.append(f"{name}: the code server loads {file}, no such file")
                if _option(argv, "--host", "-h") != "0.0.0.0":
                    problems.append(f"{name}: the code server does not listen on 0.0.0.0, "
                                    "other containers cannot reach it")
                listening.add(_option(argv, "--port", "-p") or "4000")
            elif argv[0] in {"dagster-webserver", "dagster-daemon"}:
                if argv[0] == "dagster-webserver":
                    listening.add(_option(argv, "--port", "-p") or "3000")
                loaded = _option(argv, "--workspace", "-w")
                if loaded is None:
                    problems.append(f"{name} loads no workspace (-w)")
                elif contents is not None:
                    copied = contents.copies.get(
                        posixpath.join(service.get("working_dir") or contents.workdir, loaded))
                    if copied != WORKSPACE:
                        problems.append(f"{name} loads {loaded}, which the image does not "
                                        f"copy from {WORKSPACE}")
        for _, container_port in _published(service):
            if listening and container_port not in listening:
                problems.append(f"{name} publishes container port {container_port}, "
                                f"but listens on {sorted(listening)}")

    # Ports published on the host.
    owners: dict[str, str] = {}
    for name, service in services.items():
        for host_port, _ in _published(service):
            if host_port is None:
                continue
            if host_port in owners:
                problems.append(f"host port {host_port} is published by both "
                                f"{owners[host_port]} and {name}")
            owners.setdefault(host_port, name)

    # The workspace the webserver and daemon load: the code server's host and port.
    entries = workspace.get("load_from") or []
    if not entries:
        problems.append(f"{WORKSPACE} loads nothing")
    for entry in entries:
        server = entry.get("grpc_server")
        if server is None:
            problems.append(f"{WORKSPACE} loads {next(iter(entry))}, not the code server")
            continue
        host, port = server.get("host"), str(server.get("port"))
        if host not in grpc:
            problems.append(f"{WORKSPACE} names host {host}, which is not a service serving "
                            f"the code (those are {sorted(grpc)})")
        elif port != (_option(grpc[host], "--port", "-p") or "4000"):
            problems.append(f"{WORKSPACE} names port {port}, {host} listens on "
                            f"{_option(grpc[host], '--port', '-p')}")
        if server.get("location_name") != PYPROJECT["code_location_name"]:
            problems.append(f"{WORKSPACE} names location {server.get('location_name')}, "
                            f"pyproject names {PYPROJECT['code_location_name']}")

    # Dagster's storage and the integration store: the postgres service, its credentials.
    if len(postgres) == 1:
        [db] = postgres
        own = {k: interpolate(v)[0] for k, v in _environment(services[db]).items()}
        variables = _storage_variables(dagster_yaml)
        if not variables:
            problems.append("dagster.yaml keeps runs and events outside PostgreSQL")
        for name, service in services.items():
            env = _environment(service)
            for variable in sorted((variables if name in dagster else set())
                                   | ({"DATABASE_URL"} & set(env))):
                if variable in env:
                    problems += _points_at(name, variable, interpolate(env[variable])[0],
                                           db, own, dagster=variable in variables)
    return problems


def _image_of(services: Mapping[str, Any], image: Any) -> Image | None:
    """What is in an image this file builds (None: not built here, or no Dockerfile)."""
    for service in services.values():
        located = _dockerfile(service)
        if located is not None and service.get("image") == image and located[1].is_file():
            return _read_image(located[1])
    return None


def _storage_variables(dagster_yaml: Mapping[str, Any]) -> set[str]:
    """The environment variables dagster.yaml's PostgreSQL storage is configured from."""
    storage = (dagster_yaml.get("storage") or {}).get("postgres") or {}
    found = set()
    for value in storage.values():
        if isinstance(value, dict) and "env" in value:
            found.add(value["env"])
        elif isinstance(value, dict):
            found |= {v["env"] for v in value.values() if isinstance(v, dict) and "env" in v}
    return found


def _points_at(name: str, variable: str, url: str, db: str, own: Mapping[str, str], *,
               dagster: bool) -> list[str]:
    parts = urlsplit(url)
    wanted = {"host": (parts.hostname, db), "port": (str(parts.port or 5432), "5432"),
              "user": (parts.username, own.get("POSTGRES_USER", "postgres")),
              "password": (parts.password, own.get("POSTGRES_PASSWORD")),
              "database": (parts.path.lstrip("/"),
                           own.get("POSTGRES_DB", own.get("POSTGRES_USER", "postgres")))}
    problems = [f"{name}'s {variable} has {what} {got!r}, the postgres service {db} has "
                f"{expected!r}" for what, (got, expected) in wanted.items() if got != expected]
    if not parts.scheme.startswith("postgres"):
        problems.append(f"{name}'s {variable} is not a PostgreSQL URL")
    elif dagster and parts.scheme != "postgresql+psycopg2":
        problems.append(f"{name}'s {variable} must name psycopg2 (dagster-postgres)")
    return problems


# The tests -------------------------------------------------------------------------------


def _real() -> tuple[dict, dict, dict]:
    return _compose(), _load(WORKSPACE), _load("dagster.yaml")


def test_the_settings_the_code_requires_are_found():
    """The checks below read these names from settings.py; an empty set would check nothing."""
    assert {"DATABASE_URL", "SHOPIFY_BASE_URL", "QBO_CLIENT_ID"} <= REQUIRED
    assert {"SHOPIFY_WEBHOOK_SECRETS", "QBO_WEBHOOK_VERIFIER_TOKENS"} == WEBHOOK_SECRETS


def test_the_compose_file_has_no_problems():
    assert compose_problems(*_real()) == []


def test_services_are_a_dagster_deployment_and_the_receiver():
    assert set(_compose()["services"]) == {"postgres", "user_code", "webserver", "daemon",
                                           "receiver"}


def test_every_environment_variable_is_read_by_the_project():
    project = _project_text()
    postgres_own = {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    for name, service in _compose()["services"].items():
        for variable in _environment(service):
            if name == "postgres":
                assert variable in postgres_own
                continue
            assert re.search(rf"\b{variable}\b", project), f"{name} sets unused {variable}"


def _set(path: str, value: Any) -> Callable[[dict, dict, dict], None]:
    """A change at `compose/...`, `workspace/...` or `dagster/...` (None deletes)."""
    def change(compose: dict, workspace: dict, dagster_yaml: dict) -> None:
        root, *keys = path.split("/")
        target: Any = {"compose": compose, "workspace": workspace, "dagster": dagster_yaml}[root]
        for key in keys[:-1]:
            target = target[int(key) if isinstance(target, list) else key]
        last: Any = int(keys[-1]) if isinstance(target, list) else keys[-1]
        if value is None:
            del target[last]
        else:
            target[last] = value
    return change


def _edit_command(service: str, old: str, new: str) -> Callable[[dict, dict, dict], None]:
    def change(compose: dict, workspace: dict, dagster_yaml: dict) -> None:
        command = compose["services"][service]["command"]
        assert old in command
        compose["services"][service]["command"] = command.replace(old, new)
    return change


PG = "postgresql+psycopg2://${POSTGRES_USER:-dagster}:${POSTGRES_PASSWORD:?set it}@{host}"


BROKEN = [
    (_set("compose/services/daemon/depends_on/scheduler", {"condition": "service_started"}),
     "daemon depends on unknown service scheduler"),
    (_set("compose/services/user_code/build/dockerfile", "docker/Dockerfile.prod"),
     "user_code has no Dockerfile at docker/Dockerfile.prod"),
    (_set("compose/services/user_code/build/context", "no-such-folder"),
     "user_code builds from missing context"),
    (_set("compose/services/webserver/image", "integrations-pipeline:latest"),
     "webserver uses image integrations-pipeline:latest, which is not built here"),
    (_set("compose/services/postgres/healthcheck", None),
     "user_code waits for postgres to be healthy, but postgres has no healthcheck"),
    (_set("compose/services/daemon/depends_on", {"postgres": {}}),
     "daemon does not depend on the code server user_code"),
    (_set("compose/services/postgres/volumes", ["pg-data:/var/lib/postgresql/data"]),
     "postgres mounts undeclared volume pg-data"),
    (_set("compose/services/user_code/environment/QBO_REALM_ID", None),
     "user_code does not provide QBO_REALM_ID"),
    (_set("compose/services/user_code/environment/SHOPIFY_ACCESS_TOKEN",
          "${SHOPIFY_ACCESS_TOKEN:-}"),
     "user_code provides SHOPIFY_ACCESS_TOKEN, but it may be empty"),
    (_set("compose/services/daemon/environment/DAGSTER_PG_URL", None),
     "daemon does not provide DAGSTER_PG_URL"),
    (_set("compose/services/receiver/environment/DATABASE_URL", None),
     "receiver does not provide DATABASE_URL"),
    (_set("compose/services/receiver/environment/SHOPIFY_WEBHOOK_SECRETS", None),
     "receiver does not provide SHOPIFY_WEBHOOK_SECRETS"),
    (_edit_command("user_code", "integrations_pipelines.definitions",
                   "integrations_pipelines.definition"),
     "the code server loads integrations_pipelines.definition, no module here"),
    (_edit_command("user_code", "--host 0.0.0.0 ", ""),
     "user_code: the code server does not listen on 0.0.0.0"),
    (_edit_command("user_code", "db upgrade", "db migrate"),
     "user_code: `integrations-pipelines db migrate` is refused"),
    (_edit_command("receiver", "--port 8080", "--port eighty"),
     "receiver: `integrations-pipelines webhooks serve"),
    (_edit_command("webserver", "-w workspace.yaml", "-w docker/workspace.yaml"),
     "webserver loads docker/workspace.yaml, which the image does not copy"),
    (_edit_command("daemon", " -w workspace.yaml", ""),
     "daemon loads no workspace (-w)"),
    (_set("workspace/load_from/0/grpc_server/port", 4001),
     "docker/workspace.yaml names port 4001, user_code listens on 4000"),
    (_edit_command("user_code", "--port 4000", "--port 4001"),
     "docker/workspace.yaml names port 4000, user_code listens on 4001"),
    (_set("workspace/load_from/0/grpc_server/host", "localhost"),
     "docker/workspace.yaml names host localhost, which is not a service serving the code"),
    (_set("workspace/load_from/0/grpc_server/location_name", "pipelines"),
     "docker/workspace.yaml names location pipelines"),
    (_set("workspace/load_from/0", {"python_module": "integrations_pipelines.definitions"}),
     "docker/workspace.yaml loads python_module, not the code server"),
    (_set("compose/services/receiver/ports", ["3000:8080"]),
     "host port 3000 is published by both receiver and webserver"),
    (_set("compose/services/webserver/ports", ["3000:3001"]),
     "webserver publishes container port 3001, but listens on ['3000']"),
    (_set("compose/services/webserver/environment/DAGSTER_PG_URL",
          PG.replace("{host}", "localhost:5432/${POSTGRES_DB:-integrations}")),
     "webserver's DAGSTER_PG_URL has host 'localhost', the postgres service postgres has "
     "'postgres'"),
    (_set("compose/services/daemon/environment/DAGSTER_PG_URL",
          PG.replace("{host}", "postgres:5432/dagster")),
     "daemon's DAGSTER_PG_URL has database 'dagster'"),
    (_set("compose/services/user_code/environment/DAGSTER_PG_URL",
          PG.replace("psycopg2", "psycopg").replace(
              "{host}", "postgres:5432/${POSTGRES_DB:-integrations}")),
     "user_code's DAGSTER_PG_URL must name psycopg2"),
    (_set("compose/services/receiver/environment/DATABASE_URL",
          "postgresql://integrations:${POSTGRES_PASSWORD:?}@postgres:5432/integrations"),
     "receiver's DATABASE_URL has user 'integrations', the postgres service postgres has "
     "'dagster'"),
    (_set("dagster/storage/postgres/postgres_url/env", "DAGSTER_POSTGRES_URL"),
     "user_code does not provide DAGSTER_POSTGRES_URL"),
    (_set("dagster/storage", {"sqlite": {"base_dir": "/opt/dagster/home"}}),
     "dagster.yaml keeps runs and events outside PostgreSQL"),
]


@pytest.mark.parametrize(("change", "reported"),
                         [pytest.param(c, r, id=r[:60]) for c, r in BROKEN])
def test_a_broken_copy_is_reported(change, reported):
    compose, workspace, dagster_yaml = (copy.deepcopy(d) for d in _real())
    change(compose, workspace, dagster_yaml)
    problems = compose_problems(compose, workspace, dagster_yaml)
    assert any(reported in problem for problem in problems), problems


def test_a_broken_dockerfile_is_reported(tmp_path):
    """An image that copies a file the repository does not have, and forgets dagster.yaml
    (Dagster would then keep its runs in a temporary directory, not in PostgreSQL)."""
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker/workspace.yaml").write_text("")
    (tmp_path / "Dockerfile").write_text(
        "FROM python:3.11-slim\nENV DAGSTER_HOME=/opt/dagster/home\nWORKDIR /opt/dagster/app\n"
        "COPY setup.cfg ./\nCOPY docker/workspace.yaml ./workspace.yaml\n")
    compose, workspace, dagster_yaml = (copy.deepcopy(d) for d in _real())
    compose["services"]["user_code"]["build"] = {"context": str(tmp_path)}
    problems = compose_problems(compose, workspace, dagster_yaml)
    assert "Dockerfile copies missing setup.cfg" in "\n".join(problems)
    for name in ("user_code", "webserver", "daemon"):
        assert (f"{name}'s image has no dagster.yaml in DAGSTER_HOME (/opt/dagster/home)"
                in "\n".join(problems)), problems
