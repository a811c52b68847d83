"""A plain dict-and-loop reconciliation: the specification the vectorised engine must match.

Slow and obvious on purpose: one pass over the rows, one decision per key, written straight
from the rules in `integrations_pipelines.reconciliation.engine` and `.diagnosis`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from integrations_pipelines.mapping.text import fit, normalize_text
from integrations_pipelines.reconciliation.diagnosis import EDGE_CASES, Evidence
from integrations_pipelines.reconciliation.fields import FieldSpec


@dataclass
class Reference:
    classes: dict[object, str] = field(default_factory=dict)
    differing: dict[object, frozenset[str]] = field(default_factory=dict)
    source_keys: int = 0

    def discrepancies(self) -> dict[object, str]:
        return {k: c for k, c in self.classes.items() if c != "ok"}


def is_null(value: object) -> bool:
    return value is None or (not isinstance(value, str) and bool(pd.isna(value)))


def canonical(spec: FieldSpec, value: object) -> object:
    null = is_null(value)
    if spec.kind == "text":
        text = "" if null else str(value)
        return fit(text, spec.max_len) if spec.max_len else normalize_text(text)
    if null:
        return None
    if spec.kind == "money":
        return round(float(value) * 10**spec.scale)
    if spec.kind == "currency":
        return str(value).upper()
    if spec.kind == "date":
        return pd.Timestamp(value).date()
    if spec.kind == "bool":
        return bool(value)
    return int(value)


def same(spec: FieldSpec, a: object, b: object, tolerance: int) -> bool:
    ca, cb = canonical(spec, a), canonical(spec, b)
    if spec.kind == "money" and ca is not None and cb is not None:
        return abs(ca - cb) <= tolerance
    return ca == cb


def classify(
    source: pd.DataFrame,
    destination: pd.DataFrame,
    ledger: pd.DataFrame,
    fields: list[FieldSpec],
    money_tolerance: int = 0,
) -> Reference:
    latest: dict[object, dict] = {}
    for row in source.to_dict("records"):
        kept = latest.get(row["key"])
        if kept is None or row["version"] >= kept["version"]:
            latest[row["key"]] = row
    records: dict[object, list[dict]] = defaultdict(list)
    for row in destination.to_dict("records"):
        records[row["key"]].append(row)
    written = {row["key"]: row["source_version"] for row in ledger.to_dict("records")}

    out = Reference(source_keys=len(latest))
    for key in set(latest) | set(records):
        if len(records.get(key, [])) > 1:
            out.classes[key] = "duplicate"
        elif key not in records:
            out.classes[key] = "missing"
        elif key not in latest:
            out.classes[key] = "extra"
        else:
            want, have = latest[key], records[key][0]
            diffs = frozenset(
                f.name for f in fields if not same(f, want[f.name], have[f.name], money_tolerance)
            )
            if not diffs:
                out.classes[key] = "ok"
                continue
            version = written.get(key)
            stale = key in written and not is_null(version) and version < want["version"]
            out.classes[key] = "stale" if stale else "wrong_values"
            out.differing[key] = diffs
    return out


def diagnose(
    ref: Reference,
    destination: pd.DataFrame,
    ledger: pd.DataFrame,
    evidence: Evidence,
) -> dict[object, tuple[str, str]]:
    """key -> (cause_code, cause) for every discrepant key."""
    dead: dict[str, str] = {}
    for row in [] if evidence.dead_letters is None else evidence.dead_letters.to_dict("records"):
        if not is_null(row["reason_code"]):
            dead.setdefault(str(row["key"]), row["reason_code"])
    statuses = [] if evidence.http_failures is None else list(evidence.http_failures["status"])
    auth = any(s in (401, 403) for s in statuses if not is_null(s))
    limited = any(s == 429 for s in statuses if not is_null(s))
    tags: dict[str, str | None] = {}
    for row in [] if evidence.tags is None else evidence.tags.to_dict("records"):
        if not is_null(row["tags"]) and str(row["key"]) not in tags:
            found = re.search(r"edge:[A-Za-z0-9_\-]+", row["tags"])
            tags[str(row["key"])] = found.group(0) if found else None
    led = {row["key"]: row for row in ledger.to_dict("records")}
    ids: dict[object, list[str]] = defaultdict(list)
    for row in destination.to_dict("records"):
        ids[row["key"]].append(str(row["destination_id"]))
    what = EDGE_CASES  # the same vocabulary (data, not logic) as the engine's diagnosis

    out: dict[object, tuple[str, str]] = {}
    for key, cls in ref.discrepancies().items():
        reason = dead.get(str(key))
        entry = led.get(key)
        led_id = (
            None
            if entry is None or is_null(entry.get("destination_id"))
            else entry.get("destination_id")
        )
        if cls == "missing":
            if reason is not None:
                out[key] = ("dead_lettered", f"dead-lettered: {reason}")
            elif entry is not None:
                shown = "?" if led_id is None else led_id
                gone = f"synced as {shown} but gone from the destination: deleted by hand"
                out[key] = ("deleted_in_destination", gone)
            elif auth:
                out[key] = ("auth_failed", "authentication failed during the sync")
            elif limited:
                out[key] = ("rate_limited", "rate limited during the sync")
            else:
                out[key] = (
                    "never_synced",
                    "never synced: the partition did not run or the run failed before this record",
                )
        elif cls == "extra":
            out[key] = (
                "no_source_record",
                "no source record: created by hand in the destination, or the source record "
                "was deleted",
            )
        elif cls == "duplicate":
            if led_id is not None and str(led_id) in ids[key]:
                extra = ", ".join(i for i in ids[key] if i != str(led_id))
                text = f"retried create without idempotency (ledger id {led_id}, extra ids {extra})"
                out[key] = ("retried_create", text)
            else:
                out[key] = ("created_outside_sync", "duplicate created outside the sync")
        elif cls == "stale":
            text = f"an update after {entry['source_version']} never synced"
            if reason is not None:
                text += f" (dead-lettered: {reason})"
            out[key] = ("update_not_synced", text)
        else:
            tag = tags.get(str(key))
            if reason is not None:  # e.g. destination_conflict: someone else's invoice
                out[key] = ("dead_lettered", f"dead-lettered: {reason}")
            elif tag is not None:
                label = f"edge case: {tag}" + (f" ({what[tag]})" if tag in what else "")
                out[key] = ("edge_case", label)
            else:
                out[key] = (
                    "changed_after_sync",
                    "values differ although the last sync was current: edited in the "
                    "destination after the sync, or the mapping changed",
                )
    return out
