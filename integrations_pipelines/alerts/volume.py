"""Expected volume: the dead-man's switch for "the sync ran, but far too little arrived".

A run that succeeds with 3 orders on a day that usually has 120 is the quietest failure of
all. The baseline for a day is the median count of the same weekday over the last weeks
(weekly seasonality; the median ignores one-off spikes and outage days, and the MAD is
reported as the spread). A weekday whose baseline is about zero (the weekend of a B2B
shop) and configured holidays stay green. Every verdict explains itself: expected,
actual, ratio and the reason in words, so the alert and the asset check can show them.

Days absent from the history are unknown, not zero: a count of 0 must be recorded as 0.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

__all__ = [
    "Baseline", "BehindVerdict", "VolumePolicy", "VolumeVerdict", "check_volume",
    "destination_behind_source", "weekday_baseline",
]


@dataclass(frozen=True)
class VolumePolicy:
    """How the baseline is built and when a shortfall is an alert."""

    weeks: int = 6  # same-weekday samples looked back on
    min_samples: int = 3  # fewer known samples: not enough history to judge
    min_ratio: float = 0.5  # alert when actual < min_ratio * expected ...
    min_expected: float = 10.0  # ... and the baseline is at least this (small shops are noisy)
    quiet_below: float = 1.0  # a baseline under this is a quiet day: always green


@dataclass(frozen=True)
class Baseline:
    """The expected count of a day and the samples it came from."""

    day: date
    expected: float | None
    mad: float | None
    samples: tuple[int, ...]


@dataclass(frozen=True)
class VolumeVerdict:
    """The decision for one day, explained."""

    day: date
    ok: bool
    actual: int
    expected: float | None
    ratio: float | None
    reason: str
    quiet_day: bool
    samples: tuple[int, ...]

    def metadata(self) -> dict[str, float | int | str | bool | None]:
        """Flat values for Dagster metadata and alert details."""
        return {"actual": self.actual, "expected": self.expected,
                "ratio": None if self.ratio is None else round(self.ratio, 3),
                "quiet_day": self.quiet_day, "reason": self.reason}


def weekday_baseline(history: Mapping[date, int], day: date, *, weeks: int = 6) -> Baseline:
    """Median and MAD of the counts on the same weekday in the `weeks` weeks before `day`."""
    samples = tuple(
        history[d] for d in (day - timedelta(weeks=w) for w in range(1, weeks + 1))
        if d in history
    )
    if not samples:
        return Baseline(day, None, None, samples)
    center = float(median(samples))
    mad = float(median(abs(s - center) for s in samples))
    return Baseline(day, center, mad, samples)


def check_volume(history: Mapping[date, int], day: date, actual: int | None = None, *,
                 policy: VolumePolicy | None = None, holidays: Collection[date] = (),
                 fallback_expected: float | None = None, factor: float = 1.0) -> VolumeVerdict:
    """Is `actual` (default: history[day]) plausible for `day`?

    `fallback_expected` (e.g. the catalog's expected_daily_volume) stands in for the
    baseline while the history is shorter than `policy.min_samples` weeks. `factor`: the
    multiple of the usual the business plans for on `day` (a peak day the catalog names,
    such as Black Friday at 10x): the day is judged against that many times its baseline.
    """
    rules = policy or VolumePolicy()
    count = history.get(day, 0) if actual is None else actual
    base = weekday_baseline(history, day, weeks=rules.weeks)
    expected = base.expected

    def verdict(ok: bool, reason: str, quiet: bool = False,
                expected: float | None = expected) -> VolumeVerdict:
        ratio = None if not expected else count / expected
        return VolumeVerdict(day, ok, count, expected, ratio, reason, quiet, base.samples)

    if day in holidays:
        return verdict(True, f"{day} is a configured holiday", quiet=True)
    if len(base.samples) < rules.min_samples:
        if fallback_expected is None:
            return verdict(True, f"not enough history ({len(base.samples)} of "
                                 f"{rules.min_samples} {day:%A}s known)")
        expected = float(fallback_expected)
        source = "the configured expected volume (history too short)"
    else:
        # At least min_samples (>= 1) samples are known, so their median is.
        assert expected is not None
        source = f"the median of the last {len(base.samples)} {day:%A}s"
    if factor != 1.0:
        expected *= factor
        source += f", times {factor:g} for a planned peak day"
    if expected < rules.quiet_below:
        return verdict(True, f"quiet day: {day:%A}s usually have no records", quiet=True,
                       expected=expected)
    ratio = count / expected
    if ratio < rules.min_ratio and expected >= rules.min_expected:
        return verdict(False, f"{count} records is {ratio:.0%} of the {expected:g} expected "
                              f"({source}); the alert threshold is {rules.min_ratio:.0%}",
                       expected=expected)
    if ratio < rules.min_ratio:
        return verdict(True, f"{count} of {expected:g} expected is low, but a baseline under "
                             f"{rules.min_expected:g} is too small to judge", expected=expected)
    return verdict(True, f"{count} records, {ratio:.0%} of the {expected:g} expected "
                         f"({source})", expected=expected)


@dataclass(frozen=True)
class BehindVerdict:
    """Whether the destination holds (nearly) everything the source has for a window."""

    ok: bool
    source_count: int
    destination_count: int
    missing: int
    tolerance: int
    reason: str


def destination_behind_source(source_count: int, destination_count: int,
                              tolerance: int = 0) -> BehindVerdict:
    """Green while the destination lacks at most `tolerance` of the source's records."""
    missing = max(source_count - destination_count, 0)
    if missing > tolerance:
        reason = (f"destination has {destination_count} of {source_count} source records: "
                  f"{missing} missing (tolerance {tolerance})")
        return BehindVerdict(False, source_count, destination_count, missing, tolerance, reason)
    reason = (f"destination has {destination_count} of {source_count} source records"
              + (f" ({missing} missing, within tolerance {tolerance})" if missing else ""))
    return BehindVerdict(True, source_count, destination_count, missing, tolerance, reason)
