"""Alembic environment: runs the migrations against the URL the caller configured."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from integrations_pipelines.state.tables import metadata

config = context.config
url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
assert url is not None, "no database URL: state.db.upgrade sets config.attributes['url']"

connectable = sa.create_engine(url, poolclass=sa.pool.NullPool)
with connectable.begin() as connection:
    # Two processes starting at once (webserver and daemon) must not race the DDL.
    connection.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
