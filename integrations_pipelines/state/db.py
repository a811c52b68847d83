"""Connections to the integration store and its schema migrations."""

from __future__ import annotations

import select
import time
from functools import cache
from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event, exc
from sqlalchemy.pool import ConnectionPoolEntry

from integrations_pipelines.settings import sqlalchemy_url

__all__ = ["IDLE_PING_S", "alembic_config", "engine_for", "upgrade"]

# A pooled connection idle longer than this is pinged before it is handed out. A PostgreSQL
# that restarts or ends a session closes its socket, which the checkout sees at once without
# a round trip; only a server that vanished without closing (a host gone, a silent network
# drop) needs the ping, and such a server is not back within seconds.
IDLE_PING_S = 5.0


@cache
def engine_for(url: str) -> sa.Engine:
    """One pooled engine per database URL and process, whose connections survive a
    restarted PostgreSQL (see `_guard_checkouts`)."""
    engine = sa.create_engine(sqlalchemy_url(url), future=True)
    _guard_checkouts(engine)
    return engine


def _guard_checkouts(engine: sa.Engine, idle_ping_s: float = IDLE_PING_S) -> None:
    """Never hand out a pooled connection the server has dropped, without a round trip per
    checkout (`pool_pre_ping` sends a `SELECT 1` on every one: about an eighth of a
    backfill day's time). A connection is pinged only when its socket has something to
    read while idle (the server's goodbye on a restart or a terminated session, or its end
    of file), when the driver already knows it is broken, or when it has been idle longer
    than `idle_ping_s`. A failed ping drops every pooled connection opened before it (the
    server restarted, so they are all gone) and the checkout gets a fresh one, as with
    `pool_pre_ping`."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def idle_from(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def check(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None:
            return  # fresh from connect(): nothing to doubt yet
        if not (getattr(dbapi_connection, "closed", False)
                or getattr(dbapi_connection, "broken", False)
                or time.monotonic() - idle_since > idle_ping_s
                or _readable(dbapi_connection)):
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            if isinstance(error, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
                    error, dbapi_connection, None):
                raise exc.InvalidatePoolError() from error
            raise


def _readable(dbapi_connection: Any) -> bool:
    """Whether an idle connection's socket has anything to read. An idle session's server
    sends nothing unasked, so this is a server that closed it (or a notice to look at)."""
    try:
        fd = dbapi_connection.fileno()
    except Exception:
        return True  # no socket to look at: let the ping decide
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at the migrations shipped inside the package."""
    cfg = Config()
    cfg.set_main_option(
        "script_location", str(resources.files("integrations_pipelines.state") / "migrations")
    )
    cfg.attributes["url"] = sqlalchemy_url(url)
    return cfg


def upgrade(url: str) -> None:
    """Bring the integration store's schema to the newest migration (idempotent)."""
    command.upgrade(alembic_config(url), "head")
