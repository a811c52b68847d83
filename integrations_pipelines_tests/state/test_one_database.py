"""The integration store and Dagster's storage can share one PostgreSQL database (as
docker-compose.yml has them): each keeps its Alembic revision in its own table, and a store
migrated when ours was still in `alembic_version` is carried over."""

from __future__ import annotations

import uuid

import dagster as dg
import sqlalchemy as sa

from integrations_pipelines import local_postgres
from integrations_pipelines.settings import dagster_storage_url
from integrations_pipelines.state.db import engine_for, upgrade

OURS = "integrations_alembic_version"


def _versions(engine: sa.Engine, table: str) -> list[str]:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(table):
            return []
        return list(conn.execute(sa.text(f"SELECT version_num FROM {table}")).scalars())


def test_the_store_and_dagster_storage_share_one_database(pg_base_url: str) -> None:
    name = f"shared_{uuid.uuid4().hex[:12]}"
    url = local_postgres.ensure_database(pg_base_url, name)
    try:
        upgrade(url)
        engine = engine_for(url)
        [ours] = _versions(engine, OURS)
        storage = {"storage": {"postgres": {"postgres_url": dagster_storage_url(url)}}}
        with dg.instance_for_test(overrides=storage) as instance:  # Dagster migrates too
            assert instance.get_runs() == []
        assert _versions(engine, OURS) == [ours]
        assert _versions(engine, "alembic_version") not in ([], [ours])  # Dagster's own
        upgrade(url)  # and ours again, beside Dagster's: nothing to do, no clash
        assert _versions(engine, OURS) == [ours]
        engine.dispose()
    finally:
        local_postgres.drop_database(pg_base_url, name)


def test_a_store_migrated_before_the_move_is_carried_over(database_url: str,
                                                          engine: sa.Engine) -> None:
    [ours] = _versions(engine, OURS)
    with engine.begin() as conn:  # the layout an older release left behind
        conn.execute(sa.text(f"ALTER TABLE {OURS} RENAME TO alembic_version"))
        conn.execute(sa.text(f"ALTER TABLE alembic_version RENAME CONSTRAINT {OURS}_pkc "
                             "TO alembic_version_pkc"))
    upgrade(database_url)
    assert _versions(engine, OURS) == [ours]
    assert _versions(engine, "alembic_version") == []
