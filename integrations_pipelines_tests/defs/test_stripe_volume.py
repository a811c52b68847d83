"""The Stripe ledger's expected-volume verdict for one day: judged against the same
weekday's history times the catalog's peak factor, and not judged against a guess while the
history is short (a first seeded or partial day is "not enough history", not a warning),
except that an empty day is always reported."""

from __future__ import annotations

from datetime import date, timedelta

from integrations_pipelines.defs.stripe_to_warehouse.volume import day_verdict
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry

BLACK_FRIDAY = date(2026, 11, 27)
CYBER_MONDAY = date(2026, 11, 30)
ENTRY = StripeToWarehouseEntry(
    name="stripe_volume", description="Stripe into the warehouse.", source="stripe",
    destination="warehouse", owner="team:analytics", owner_email="analytics@example.com",
    slack_channel="#analytics", partitions_start=date(2026, 10, 1),
    schedule={"hour": 4, "minute": 0}, freshness_sla_hours=26, expected_daily_volume=150,
    peak_days={BLACK_FRIDAY: 10, CYBER_MONDAY: 4})


def _weeks_before(day: date, count: int, weeks: int = 6) -> dict[date, int]:
    return {day - timedelta(weeks=w): count for w in range(1, weeks + 1)}


def test_a_first_day_without_history_is_not_judged_against_a_guess():
    verdict = day_verdict({CYBER_MONDAY: 122}, CYBER_MONDAY, ENTRY)  # dev's first day
    assert verdict.ok and "not enough history" in verdict.reason


def test_an_empty_day_is_reported_even_without_history():
    verdict = day_verdict({CYBER_MONDAY: 0}, CYBER_MONDAY, ENTRY)
    assert not verdict.ok and verdict.actual == 0


def test_black_friday_is_judged_against_its_planned_peak_once_history_exists():
    history = _weeks_before(BLACK_FRIDAY, 120)
    busy = day_verdict({**history, BLACK_FRIDAY: 1200}, BLACK_FRIDAY, ENTRY)
    assert busy.ok and busy.expected == 1200
    short = day_verdict({**history, BLACK_FRIDAY: 400}, BLACK_FRIDAY, ENTRY)
    assert not short.ok and "400" in short.reason  # a third of the peak is a loss
    friday = BLACK_FRIDAY + timedelta(weeks=1)
    assert day_verdict({**_weeks_before(friday, 120), friday: 400}, friday, ENTRY).ok
