"""INTEGRATIONS_PARTITIONS_START: `dev` partitions from the first day its sandbox shop has
orders (the UI shows no "missing" days before the seed), production from the catalog's
`partitions_start`; the rolling reconciliation never asks for a day before the first
partition. The variable is read when the catalog is used, never at import."""

from __future__ import annotations

from datetime import UTC, date, datetime

import dagster as dg
import pytest

from integrations_pipelines.catalog import integration
from integrations_pipelines.definitions import build_definitions
from integrations_pipelines.defs.kit.jobs import RANGE_END, RANGE_START
from integrations_pipelines.dev_environment import first_seeded_day
from integrations_pipelines.sandbox.shop_generator import generate_shop
from integrations_pipelines.settings import PARTITIONS_START_VARIABLE

FLAGSHIP = "shopify_to_quickbooks"
CATALOG_START = date(2026, 10, 1)  # catalog.yaml


def _first_partition(defs: dg.Definitions) -> str:
    partitions = defs.resolve_job_def(f"{FLAGSHIP}_job").partitions_def
    assert partitions is not None
    return partitions.get_first_partition_key()


def _rolling_ranges(defs: dg.Definitions, at: datetime) -> list[tuple[str, str]]:
    schedule = defs.resolve_schedule_def(f"{FLAGSHIP}_rolling_reconciliation_job_schedule")
    with dg.build_schedule_context(scheduled_execution_time=at) as context:
        requests = schedule(context)
    assert isinstance(requests, list)
    return [(r.tags[RANGE_START], r.tags[RANGE_END]) for r in requests]


def test_production_partitions_start_on_the_catalogs_day(monkeypatch) -> None:
    monkeypatch.delenv(PARTITIONS_START_VARIABLE, raising=False)
    assert integration(FLAGSHIP).partitions_start == CATALOG_START
    assert _first_partition(build_definitions()) == "2026-10-01"


def test_the_override_moves_the_first_partition_and_the_rolling_window(monkeypatch) -> None:
    monkeypatch.setenv(PARTITIONS_START_VARIABLE, "2026-11-30")
    assert integration(FLAGSHIP).partitions_start == date(2026, 11, 30)
    defs = build_definitions()
    assert _first_partition(defs) == "2026-11-30"
    # 60 rolling days before 2026-12-06 would start in October: they start on the first day.
    assert _rolling_ranges(defs, datetime(2026, 12, 8, 3, 15, tzinfo=UTC)) == [
        ("2026-11-30", "2026-12-06")]

    monkeypatch.delenv(PARTITIONS_START_VARIABLE)  # read when used: the catalog's day again
    assert integration(FLAGSHIP).partitions_start == CATALOG_START


def test_the_override_never_starts_before_the_catalogs_day(monkeypatch) -> None:
    monkeypatch.setenv(PARTITIONS_START_VARIABLE, "2026-09-01")
    assert integration(FLAGSHIP).partitions_start == CATALOG_START


def test_a_malformed_override_names_the_variable(monkeypatch) -> None:
    monkeypatch.setenv(PARTITIONS_START_VARIABLE, "30/11/2026")
    with pytest.raises(ValueError, match=PARTITIONS_START_VARIABLE):
        integration(FLAGSHIP)

def test_dev_partitions_from_the_first_day_the_seeded_shop_has_orders() -> None:
    orders = generate_shop(2026, date(2026, 11, 30), 7, 20)
    assert first_seeded_day(orders, "UTC") == date(2026, 11, 30)
    assert first_seeded_day([{"created_at": "2026-11-30T01:30:00+00:00"}],
                            "America/New_York") == date(2026, 11, 29)
    assert first_seeded_day([], "UTC") is None
