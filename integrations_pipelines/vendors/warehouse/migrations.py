"""The warehouse's own schema changes, applied once, never on a load.

A warehouse pair owns tables in the analytics warehouse (`WAREHOUSE_URL`), which is not the
integration store Alembic manages: the analysts' database may live elsewhere. Its DDL is a
list of numbered `Migration`s (the pair's); `migrate` applies the pending ones, each in its
own transaction with its number recorded in `<schema>.warehouse_migrations`, under an
advisory lock so two runs starting at once never both apply one. On an up-to-date
warehouse it is one read of that table: no DDL runs on the load path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

__all__ = ["Migration", "applied", "migrate"]

_LOCK = 0x57A1E  # the advisory lock key of warehouse migrations


@dataclass(frozen=True)
class Migration:
    """One schema change: its id (sorted order is applied order) and its statements, written
    for `{schema}`."""

    ident: str
    statements: Sequence[str]


def _quoted(schema: str) -> str:
    if not schema.replace("_", "").isalnum():
        raise ValueError(f"not a plain schema name: {schema!r}")
    return f'"{schema}"'


def applied(conn: sa.Connection, schema: str) -> set[str]:
    """The migrations already applied in `schema` (none when it does not exist yet)."""
    exists = conn.execute(sa.text("SELECT to_regclass(:t)"),
                          {"t": f"{_quoted(schema)}.warehouse_migrations"}).scalar()
    if exists is None:
        return set()
    return set(conn.execute(sa.text(
        f"SELECT ident FROM {_quoted(schema)}.warehouse_migrations")).scalars())


def migrate(engine: sa.Engine, schema: str, migrations: Sequence[Migration]) -> list[str]:
    """Apply the pending migrations in order; returns the ids applied now."""
    with engine.connect() as conn:
        if {m.ident for m in migrations} <= applied(conn, schema):
            return []
    done: list[str] = []
    quoted = _quoted(schema)
    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK})
        conn.execute(sa.text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))
        conn.execute(sa.text(
            f"CREATE TABLE IF NOT EXISTS {quoted}.warehouse_migrations (ident text PRIMARY "
            "KEY, applied_at timestamptz NOT NULL DEFAULT now())"))
        have = applied(conn, schema)
        for migration in sorted(migrations, key=lambda m: m.ident):
            if migration.ident in have:
                continue
            for statement in migration.statements:
                conn.execute(sa.text(statement.format(schema=quoted)))
            conn.execute(sa.text(f"INSERT INTO {quoted}.warehouse_migrations (ident) "
                                 "VALUES (:i)"), {"i": migration.ident})
            done.append(migration.ident)
    return done
