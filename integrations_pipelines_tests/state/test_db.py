"""The integration store's pooled connections: a session the server dropped (PostgreSQL
restarted, or an administrator ended it) is never handed to the sync, which would fail a
run for nothing; a fresh one is, without a ping on every checkout."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from integrations_pipelines.settings import sqlalchemy_url
from integrations_pipelines.state.db import engine_for

BACKEND = sa.text("SELECT pg_backend_pid()")


def _terminate(database_url: str, pids: set[int]) -> None:
    """End these sessions from outside the pool, as a PostgreSQL restart ends them all,
    and wait until they are gone."""
    admin = sa.create_engine(sqlalchemy_url(database_url), poolclass=NullPool)
    with admin.connect() as conn:
        for pid in pids:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid, 10000)"),
                                {"pid": pid}).scalar()
    admin.dispose()


def test_dropped_sessions_are_replaced_at_checkout(database_url: str) -> None:
    engine = engine_for(database_url)
    with engine.connect() as first, engine.connect() as second:  # two pooled sessions
        pooled = {first.execute(BACKEND).scalar_one(), second.execute(BACKEND).scalar_one()}
    _terminate(database_url, pooled)

    # Right away (not idle long enough for the idle ping): each checkout still works.
    with engine.connect() as first, engine.connect() as second:
        now = {first.execute(BACKEND).scalar_one(), second.execute(BACKEND).scalar_one()}
        first.execute(sa.text("SELECT 1")).scalar_one()
    assert not now & pooled


def test_a_busy_pool_keeps_its_sessions(database_url: str) -> None:
    """A session the server still holds is handed out again, not replaced."""
    engine = engine_for(database_url)
    with engine.connect() as conn:
        pid = conn.execute(BACKEND).scalar_one()
    with engine.connect() as conn:
        assert conn.execute(BACKEND).scalar_one() == pid
