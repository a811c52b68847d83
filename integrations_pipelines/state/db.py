"""Connections to the integration store and its schema migrations."""

from __future__ import annotations

from functools import cache
from importlib import resources

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from integrations_pipelines.settings import sqlalchemy_url

__all__ = ["alembic_config", "engine_for", "upgrade"]


@cache
def engine_for(url: str) -> sa.Engine:
    """One pooled engine per database URL and process."""
    return sa.create_engine(sqlalchemy_url(url), pool_pre_ping=True, future=True)


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
