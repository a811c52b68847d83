"""The expected-volume rule: same-weekday median, quiet days, holidays, explained verdicts."""

from __future__ import annotations

from datetime import date, timedelta

from integrations_pipelines.alerts.volume import (
    VolumePolicy,
    check_volume,
    destination_behind_source,
    weekday_baseline,
)

MONDAY = date(2026, 11, 30)
SATURDAY = date(2026, 11, 28)


def b2b_history(end: date, weeks: int = 6) -> dict[date, int]:
    """A B2B shop: about 100 orders on weekdays, none at weekends."""
    start = end - timedelta(weeks=weeks)
    days = (start + timedelta(d) for d in range((end - start).days))
    return {d: (0 if d.weekday() >= 5 else 100 + d.day % 7) for d in days}


def test_baseline_is_the_median_of_the_same_weekday() -> None:
    history = {MONDAY - timedelta(weeks=w): c for w, c in enumerate([90, 100, 110, 120], 1)}
    history[MONDAY - timedelta(days=1)] = 5000  # a Sunday: not a Monday, ignored
    base = weekday_baseline(history, MONDAY, weeks=6)
    assert base.samples == (90, 100, 110, 120)
    assert base.expected == 105
    assert base.mad == 10


def test_outliers_do_not_move_the_baseline() -> None:
    counts = [100, 0, 104, 2000, 98, 101]  # an outage day and a Black-Friday spike
    history = {MONDAY - timedelta(weeks=w): c for w, c in enumerate(counts, 1)}
    verdict = check_volume(history, MONDAY, actual=97)
    assert verdict.expected == 100.5
    assert verdict.ok


def test_far_below_the_baseline_fails_and_explains() -> None:
    history = b2b_history(MONDAY)
    verdict = check_volume(history, MONDAY, actual=12)
    assert not verdict.ok
    assert verdict.actual == 12
    assert verdict.expected == 102
    assert round(verdict.ratio, 3) == round(12 / 102, 3)
    assert verdict.reason == (
        "12 records is 12% of the 102 expected (the median of the last 6 Mondays); "
        "the alert threshold is 50%"
    )


def test_a_normal_day_passes() -> None:
    verdict = check_volume(b2b_history(MONDAY), MONDAY, actual=95)
    assert verdict.ok and not verdict.quiet_day
    assert verdict.reason == (
        "95 records, 93% of the 102 expected (the median of the last 6 Mondays)"
    )


def test_quiet_weekend_stays_green() -> None:
    verdict = check_volume(b2b_history(SATURDAY), SATURDAY, actual=0)
    assert verdict.ok and verdict.quiet_day
    assert verdict.expected == 0
    assert verdict.reason == "quiet day: Saturdays usually have no records"


def test_holiday_stays_green() -> None:
    verdict = check_volume(b2b_history(MONDAY), MONDAY, actual=0, holidays={MONDAY})
    assert verdict.ok and verdict.quiet_day
    assert verdict.reason == "2026-11-30 is a configured holiday"


def test_small_baseline_is_not_judged() -> None:
    history = {MONDAY - timedelta(weeks=w): 4 for w in range(1, 7)}
    verdict = check_volume(history, MONDAY, actual=0)
    assert verdict.ok
    assert "too small to judge" in verdict.reason
    strict = check_volume(history, MONDAY, actual=0, policy=VolumePolicy(min_expected=2))
    assert not strict.ok


def test_short_history_uses_the_fallback_or_stays_green() -> None:
    history = {MONDAY - timedelta(weeks=1): 100}
    green = check_volume(history, MONDAY, actual=0)
    assert green.ok
    assert green.reason == "not enough history (1 of 3 Mondays known)"
    verdict = check_volume(history, MONDAY, actual=10, fallback_expected=100)
    assert not verdict.ok
    assert "configured expected volume" in verdict.reason


def test_actual_defaults_to_the_history_of_the_day() -> None:
    history = b2b_history(MONDAY)
    history[MONDAY] = 3
    assert check_volume(history, MONDAY).actual == 3


def test_destination_behind_source() -> None:
    behind = destination_behind_source(100, 97, tolerance=2)
    assert not behind.ok and behind.missing == 3
    assert behind.reason == "destination has 97 of 100 source records: 3 missing (tolerance 2)"
    within = destination_behind_source(100, 99, tolerance=2)
    assert within.ok and within.missing == 1
    assert destination_behind_source(100, 100).ok
    assert destination_behind_source(5, 7).missing == 0  # ahead is not behind
