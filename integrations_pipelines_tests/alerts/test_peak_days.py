"""A planned peak (the catalog's `peak_days`, Black Friday at 10x) is judged against that
multiple of the usual: the whole day is no anomaly, and a third of it is a loss the plain
baseline would have called "more than usual"."""

from datetime import date, timedelta

from integrations_pipelines.alerts.volume import check_volume

BLACK_FRIDAY = date(2026, 11, 27)
FRIDAYS = {BLACK_FRIDAY - timedelta(weeks=w): 125 for w in range(1, 5)}


def test_a_full_black_friday_passes_at_its_planned_factor():
    verdict = check_volume(FRIDAYS, BLACK_FRIDAY, 1250, factor=10)
    assert verdict.ok and verdict.expected == 1250.0
    assert "times 10 for a planned peak day" in verdict.reason


def test_a_third_of_black_friday_is_a_loss_only_the_peak_factor_sees():
    assert check_volume(FRIDAYS, BLACK_FRIDAY, 400).ok  # 320% of a normal Friday
    lost = check_volume(FRIDAYS, BLACK_FRIDAY, 400, factor=10)
    assert not lost.ok and lost.ratio is not None and round(lost.ratio, 2) == 0.32


def test_the_factor_applies_to_the_catalogs_figure_while_history_is_short():
    verdict = check_volume({}, BLACK_FRIDAY, 400, fallback_expected=120, factor=10)
    assert not verdict.ok and verdict.expected == 1200.0
