"""The alert kinds, enumerated in one place: each with its runbook entry and what to do.

A person paged at 7 am should not have to guess: every kind names the runbook section
(`docs/RUNBOOK.md#<anchor>`, the anchor being GitHub's slug of the section's heading) and
the one-line first action.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "CHECK_FAILURE_ANCHOR",
    "FRESHNESS_ANCHOR",
    "KINDS",
    "RUN_FAILURE_ANCHOR",
    "SCHEDULE_MISSED_ANCHOR",
    "TOKEN_EXPIRING_ANCHOR",
    "TOKEN_REVOKED_ANCHOR",
    "VOLUME_ANCHOR",
    "AlertKind",
    "KindInfo",
    "Severity",
    "kind_info",
]


class AlertKind(StrEnum):
    """What class of failure an incident is about (part of the incident key)."""

    RUN_FAILURE = "run_failure"
    CHECK_FAILURE = "check_failure"
    FRESHNESS = "freshness"
    VOLUME = "volume"
    TOKEN_EXPIRING = "token_expiring"
    TOKEN_REVOKED = "token_revoked"
    SCHEDULE_MISSED = "schedule_missed"


class Severity(StrEnum):
    """How urgently a person must act: today (warning) or now (critical)."""

    WARNING = "warning"
    CRITICAL = "critical"


# Runbook anchors: GitHub's slug of each `##` heading in docs/RUNBOOK.md.
RUN_FAILURE_ANCHOR = "run-failure"
CHECK_FAILURE_ANCHOR = "check-failure"
FRESHNESS_ANCHOR = "freshness"
VOLUME_ANCHOR = "volume"
TOKEN_EXPIRING_ANCHOR = "token-expiring"
TOKEN_REVOKED_ANCHOR = "token-revoked"
SCHEDULE_MISSED_ANCHOR = "schedule-missed"


@dataclass(frozen=True)
class KindInfo:
    """How an alert kind is presented: title, default severity, runbook anchor, first action."""

    kind: AlertKind
    title: str
    severity: Severity
    anchor: str
    what_to_do: str


KINDS: Mapping[AlertKind, KindInfo] = MappingProxyType({
    info.kind: info
    for info in (
        KindInfo(
            AlertKind.RUN_FAILURE, "Run failure", Severity.CRITICAL, RUN_FAILURE_ANCHOR,
            "Open the run, read the failed step's error; fix the cause, then re-execute "
            "the failed partition (idempotent: nothing is written twice).",
        ),
        KindInfo(
            AlertKind.CHECK_FAILURE, "Check failure", Severity.CRITICAL, CHECK_FAILURE_ANCHOR,
            "Open the check's metadata for the discrepant records and their likely causes; "
            "launch the integration's repair job for that day (it re-syncs exactly those "
            "records), or replay the dead letters.",
        ),
        KindInfo(
            AlertKind.FRESHNESS, "Freshness", Severity.CRITICAL, FRESHNESS_ANCHOR,
            "Nothing new arrived within the SLA: check that the schedule and the daemon "
            "are running and the last run succeeded; backfill the missing partitions.",
        ),
        KindInfo(
            AlertKind.VOLUME, "Volume", Severity.WARNING, VOLUME_ANCHOR,
            "Far fewer records than usual: compare with the source system for that day; "
            "if records are missing, re-run the partition.",
        ),
        KindInfo(
            AlertKind.TOKEN_EXPIRING, "Token expiring", Severity.WARNING, TOKEN_EXPIRING_ANCHOR,
            "Re-authorize the connection before its refresh token expires and store the "
            "new token with `integrations-pipelines tokens set <connection>`.",
        ),
        KindInfo(
            AlertKind.TOKEN_REVOKED, "Token revoked", Severity.CRITICAL, TOKEN_REVOKED_ANCHOR,
            "The connection cannot authenticate: re-authorize it (vendor consent flow), "
            "store the new refresh token, then replay the failed partitions.",
        ),
        KindInfo(
            AlertKind.SCHEDULE_MISSED, "Schedule missed", Severity.CRITICAL,
            SCHEDULE_MISSED_ANCHOR,
            "The scheduled run did not start: check the Dagster daemon and the schedule's "
            "status, then launch the missed partition by hand.",
        ),
    )
})


def kind_info(kind: AlertKind | str) -> KindInfo:
    """The presentation of one alert kind (accepts the kind's string value too)."""
    return KINDS[AlertKind(kind)]
