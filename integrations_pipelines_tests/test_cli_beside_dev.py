"""The command line works beside `integrations-pipelines dev` without exports: `dev` writes
the environment it gave Dagster under its home, and the CLI uses it when DATABASE_URL is
unset (saying so); a set DATABASE_URL always wins."""

from __future__ import annotations

import stat
from datetime import date

import pytest

from integrations_pipelines.cli import main
from integrations_pipelines.dev_environment import ENVIRONMENT_FILE, write_environment
from integrations_pipelines.state.tables import dead_letters
from integrations_pipelines.sync import dead_letters as letters

DAY = "2026-11-05"


def test_dead_letters_list_finds_the_dev_store(tmp_path, database_url, engine, monkeypatch,
                                               capsys) -> None:
    home = tmp_path / ".dev"
    home.mkdir()
    path = write_environment(home, {"DATABASE_URL": database_url, "SHOPIFY_BASE_URL": "x"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # sandbox tokens: the owner's only
    with engine.begin() as conn:
        letters.record(conn, letters.DeadLetter(
            "shopify_to_quickbooks", "4242", date.fromisoformat(DAY),
            "map", "no_line_items", "the order has no line items", {"id": 4242}))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("INTEGRATIONS_DEV_HOME", str(home))

    assert main(["dead-letters", "list"]) == 0
    out, err = capsys.readouterr()
    assert "4242" in out and "no_line_items" in out
    assert f"using the dev environment ({home / ENVIRONMENT_FILE})" in err


def test_a_set_database_url_wins_over_the_dev_environment(tmp_path, database_url, engine,
                                                          monkeypatch, capsys) -> None:
    home = tmp_path / ".dev"
    home.mkdir()
    write_environment(home, {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("INTEGRATIONS_DEV_HOME", str(home))
    with engine.connect() as conn:
        assert conn.execute(dead_letters.select()).first() is None
    assert main(["dead-letters", "list"]) == 0
    out, err = capsys.readouterr()
    assert "no open dead letters" in out and "dev environment" not in err


def test_without_dev_or_database_url_the_error_names_the_setting(tmp_path, monkeypatch) -> None:
    from integrations_pipelines.settings import MissingSetting

    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("INTEGRATIONS_DEV_HOME", str(tmp_path / "never-started"))
    with pytest.raises(MissingSetting, match="DATABASE_URL"):
        main(["dead-letters", "list"])
