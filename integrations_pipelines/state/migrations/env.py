"""Alembic environment: runs the migrations against the URL the caller configured.

The store's revision lives in its own table, `integrations_alembic_version`, not Alembic's
default `alembic_version`: Dagster's PostgreSQL storage keeps its own Alembic revision in
that one, and a deployment may put both in one database (docker-compose.yml does). A store
migrated before this moved is carried over once: its revision is moved out of
`alembic_version`, which is left to Dagster.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context
from alembic.script import ScriptDirectory

from integrations_pipelines.state.tables import metadata

VERSION_TABLE = "integrations_alembic_version"
config = context.config
url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
assert url is not None, "no database URL: state.db.upgrade sets config.attributes['url']"

connectable = sa.create_engine(url, poolclass=sa.pool.NullPool)
with connectable.begin() as connection:
    # Two processes starting at once (webserver and daemon) must not race the DDL.
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
    ours = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    inspector = sa.inspect(connection)
    if (inspector.has_table("alembic_version")
            and not inspector.has_table(VERSION_TABLE)):  # a store migrated before the move
        old = sa.table("alembic_version", sa.column("version_num"))
        moved = [r for r in connection.execute(sa.select(old.c.version_num)).scalars()
                 if r in ours]
        if moved:
            connection.execute(sa.text(
                f"CREATE TABLE {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL "
                f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY)"))
            connection.execute(sa.text(f"INSERT INTO {VERSION_TABLE} VALUES (:v)"),
                               {"v": moved[0]})
            connection.execute(old.delete().where(old.c.version_num.in_(moved)))
    context.configure(connection=connection, target_metadata=metadata,
                      version_table=VERSION_TABLE)
    with context.begin_transaction():
        context.run_migrations()
