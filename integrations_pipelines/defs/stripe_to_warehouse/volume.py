"""Expected volume of the Stripe ledger, with the business's planned peaks.

`balance_transaction_volume_matches_baseline` on `stripe/balance_transactions`: the day's
balance transactions against the median of the same weekday over the last six weeks, times
the catalog's `peak_days` factor for a planned peak. The baseline needs history before it
judges: until three of the weekday's last six are known the day is reported as "not enough
history" (passed), not weighed against a guess (the catalog's `expected_daily_volume`,
perhaps times a peak factor, against a seeded or partial first day raised a false WARN in
`dev`); the configured volume only stands in to call an empty day empty (ERROR). So Black
Friday's 1,200 transactions at a catalog factor of 10 are no anomaly, and a Black Friday
that brought 400 is a loss the check reports (a volume incident, WARN; zero on a normal day
is ERROR), where the plain baseline would have called 400 "more than usual".
"""

from collections.abc import Mapping
from datetime import date, timedelta

import dagster as dg

from integrations_pipelines.alerts.kinds import AlertKind
from integrations_pipelines.alerts.volume import VolumePolicy, VolumeVerdict, check_volume
from integrations_pipelines.defs.alerting.volume import ALERT_KIND, quiet_verdict, record_history
from integrations_pipelines.defs.kit.spec import StepRun
from integrations_pipelines.mapping.stripe_to_warehouse_entry import StripeToWarehouseEntry
from integrations_pipelines.vendors.stripe.records import kind

__all__ = ["VOLUME_CHECK", "day_verdict", "volume_result", "volume_spec"]

VOLUME_CHECK = "balance_transaction_volume_matches_baseline"
POLICY = VolumePolicy()


def volume_spec(asset: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        VOLUME_CHECK, asset=asset,
        description="The day's balance transactions are not far below the usual: at least "
        "half the median of the same weekday over the last six weeks, times the catalog's "
        "peak_days factor on a planned peak (Black Friday). Until three of those weekdays "
        "are known the day passes as 'not enough history'; quiet days pass; zero on a "
        "normal day fails at ERROR.")


def day_verdict(history: Mapping[date, int], day: date,
                entry: StripeToWarehouseEntry) -> VolumeVerdict:
    """One day's balance transactions against its weekday's history (times the catalog's
    peak factor); with too little history, judged only if the day is empty."""
    count = history.get(day, 0)
    if entry.is_quiet_day(day):
        return quiet_verdict(entry, day, count)
    return check_volume(history, day, count, policy=POLICY, holidays=entry.holidays,
                        fallback_expected=None if count else entry.expected_daily_volume,
                        factor=entry.peak_days.get(day, 1.0))


def volume_result(run: StepRun, entry: StripeToWarehouseEntry,
                  asset: dg.AssetKey) -> dg.AssetCheckResult:
    """The first failing day of the window decides (else its last day)."""
    window = run.window
    days = [window.first_day + timedelta(days=n)
            for n in range((window.end_day - window.first_day).days)]
    with run.engine.connect() as conn:
        history = record_history(conn, run.context.instance,
                                 kind("balance_transactions", entry.stripe.account), asset,
                                 window.first_day - timedelta(weeks=POLICY.weeks),
                                 window.end_day)
    verdicts = [day_verdict(history, day, entry) for day in days]
    failing = [v for v in verdicts if not v.ok]
    shown = failing[0] if failing else verdicts[-1]
    return dg.AssetCheckResult(
        check_name=VOLUME_CHECK, asset_key=asset, passed=not failing,
        severity=dg.AssetCheckSeverity.ERROR if failing and shown.actual == 0
        else dg.AssetCheckSeverity.WARN,
        description=shown.reason,
        metadata={ALERT_KIND: str(AlertKind.VOLUME), **shown.metadata(),
                  "day": shown.day.isoformat(), "weekday": f"{shown.day:%A}",
                  "peak_factor": entry.peak_days.get(shown.day, 1.0),
                  "days_failing": len(failing),
                  **({"likely_cause": "Stripe returned far fewer transactions than the day "
                      "should have: an outage that ended the extraction early, a filter or "
                      "an account change"} if failing else {})})
