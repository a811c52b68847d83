"""Vendor contracts: every response validated against a model we own, drift recorded.

A vendor that changes a field's type or stops sending a required field breaks the mapping
quietly if nobody looks. Here every payload is validated against the project's pydantic
model; a violation is written to `contract_observations` (kind `violation`, with the
offending payload, secrets redacted) and raised as a `ContractViolation` naming the model,
the field path and the row, so the run fails loudly and the payload is there to read.
Fields the model does not know and the vendor does not document (`known_extra`) are new:
they are recorded as `unknown_field` drift (one row per vendor, model and field path, its
`occurrences` bumped) for the drift warning check, and the payload passes.

Field paths are dotted, list positions written `[]`: `line_items[].price_set`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import pydantic
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from integrations_pipelines.alerts.redaction import Redactor
from integrations_pipelines.state.tables import contract_observations
from integrations_pipelines.vendors.errors import ContractViolation

__all__ = [
    "MAX_DETAIL",
    "MAX_PATHS_NAMED",
    "UNKNOWN_FIELD",
    "VIOLATION",
    "ContractGuard",
    "M",
    "Screened",
    "field_path",
    "observations",
    "unknown_fields",
]

M = TypeVar("M", bound=pydantic.BaseModel)

VIOLATION = "violation"
UNKNOWN_FIELD = "unknown_field"
MAX_DETAIL = 1000
MAX_PATHS_NAMED = 5


@dataclass(frozen=True)
class Screened(Generic[M]):
    """One payload after validation: the instance, or why it is not one."""

    payload: Any
    instance: M | None
    error: str | None


@dataclass(frozen=True)
class _Broken:
    """One field path that broke the contract: first detail and payload, count, row id."""

    detail: str
    sample: Any
    count: int
    row: int | None


def field_path(loc: Sequence[str | int]) -> str:
    """A pydantic error location as a dotted path: ("line_items", 0, "price") ->
    "line_items[].price"."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += "[]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(root)"


def unknown_fields(instance: pydantic.BaseModel, prefix: str = "") -> dict[str, str]:
    """Field paths in a validated instance that neither the model nor its `known_extra`
    list names, with the JSON type of the value found there; nested models are walked."""
    found: dict[str, str] = {}
    known: frozenset[str] = getattr(type(instance), "known_extra", frozenset())
    for key, value in (instance.model_extra or {}).items():
        if key not in known:
            found[f"{prefix}{key}"] = type(value).__name__
    for name in type(instance).model_fields:
        value = getattr(instance, name)
        if isinstance(value, pydantic.BaseModel):
            found.update(unknown_fields(value, f"{prefix}{name}."))
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, pydantic.BaseModel):
                    found.update(unknown_fields(item, f"{prefix}{name}[]."))
    return found


def _detail(error: Any) -> str:
    if error["type"] == "missing":
        return "missing: a required field is absent"
    got = type(error.get("input")).__name__
    return f"{error['type']}: {error['msg']} (got {got})"[:MAX_DETAIL]


class ContractGuard:
    """Validates vendor payloads for one run and records what it finds.

    Without an engine (a library user with no store) it still validates and raises, but
    records nothing. `violations` and `drift` count, per "Model.field_path", what this guard
    saw: numbers for materialization metadata.
    """

    def __init__(self, engine: sa.Engine | None = None, *, run_id: str | None = None,
                 redactor: Redactor | None = None) -> None:
        self.engine = engine
        self.run_id = run_id
        self.redactor = redactor or Redactor.from_environment()
        self.violations: Counter[str] = Counter()
        self.drift: Counter[str] = Counter()

    def validate(self, model: type[M], payload: Any, *, vendor: str, endpoint: str) -> M:
        """One payload as `model`; raises ContractViolation (recorded) if it does not fit."""
        return self.validate_many(model, [payload], vendor=vendor, endpoint=endpoint)[0]

    def validate_many(self, model: type[M], payloads: Sequence[Any], *, vendor: str,
                      endpoint: str) -> list[M]:
        """A page of payloads as `model`; raises ContractViolation if any does not fit.

        The whole page is checked before anything is raised, so the failure says how many
        records broke the contract and on which fields (a changed type hits all of them, a
        single odd record one). For answers whose records stand alone (a page of orders),
        `screen_many` keeps the valid ones instead.
        """
        screened, broken = self._screen(model, payloads, vendor=vendor, endpoint=endpoint)
        if broken:
            invalid = sum(1 for s in screened if s.instance is None)
            raise self._violation(model.__name__, broken, invalid, len(payloads),
                                  vendor=vendor, endpoint=endpoint)
        return [s.instance for s in screened if s.instance is not None]

    def screen_many(self, model: type[M], payloads: Sequence[Any], *, vendor: str,
                    endpoint: str) -> list[Screened[M]]:
        """Each payload validated on its own: one bad record never blocks the others.

        Violations and drift are recorded exactly as `validate_many` records them; nothing is
        raised, and each result carries either the instance or the validation error, for the
        caller to dead-letter.
        """
        return self._screen(model, payloads, vendor=vendor, endpoint=endpoint)[0]

    def _screen(self, model: type[M], payloads: Sequence[Any], *, vendor: str,
                endpoint: str) -> tuple[list[Screened[M]], dict[str, _Broken]]:
        screened: list[Screened[M]] = []
        broken: dict[str, tuple[str, Any, int]] = {}  # path -> (detail, first payload, count)
        drift: dict[str, tuple[str, Any, int]] = {}
        for payload in payloads:
            try:
                instance = model.model_validate(payload)
            except pydantic.ValidationError as exc:
                details = {field_path(e["loc"]): _detail(e) for e in exc.errors()}
                screened.append(Screened(payload, None, "; ".join(
                    f"{model.__name__}.{path}: {detail}" for path, detail in details.items())))
                for path, detail in details.items():
                    first = broken.get(path)
                    broken[path] = (detail, payload, 1) if first is None else (
                        first[0], first[1], first[2] + 1)
                continue
            screened.append(Screened(payload, instance, None))
            for path, json_type in unknown_fields(instance).items():
                seen = drift.get(path)
                drift[path] = (f"field not in the {model.__name__} model (value: {json_type})",
                               payload, 1) if seen is None else (seen[0], seen[1], seen[2] + 1)
        for path, (detail, sample, count) in drift.items():
            self.drift[f"{model.__name__}.{path}"] += count
            self._record(UNKNOWN_FIELD, vendor, model.__name__, path, detail, sample, count)
        recorded: dict[str, _Broken] = {}
        for path, (detail, sample, count) in broken.items():
            self.violations[f"{model.__name__}.{path}"] += count
            row = self._record(VIOLATION, vendor, model.__name__, path, detail, sample, count)
            recorded[path] = _Broken(detail, sample, count, row)
        return screened, recorded

    def violation(self, model: str, path: str, detail: str, payload: Any, *, vendor: str,
                  endpoint: str) -> ContractViolation:
        """Record a broken envelope (e.g. no `orders` list) and return the error to raise."""
        row = self._record(VIOLATION, vendor, model, path, detail, payload, 1)
        self.violations[f"{model}.{path}"] += 1
        return self._violation(model, {path: _Broken(detail, payload, 1, row)}, 1, 1,
                               vendor=vendor, endpoint=endpoint)

    def _violation(self, model: str, broken: dict[str, _Broken], invalid: int, total: int, *,
                   vendor: str, endpoint: str) -> ContractViolation:
        named = sorted(broken, key=lambda p: -broken[p].count)[:MAX_PATHS_NAMED]
        fields = "; ".join(f"{model}.{p} ({broken[p].detail})" for p in named)
        more = f" and {len(broken) - len(named)} more fields" if len(broken) > len(named) else ""
        ids = [broken[p].row for p in named if broken[p].row is not None]
        where = (f"payload captured in contract_observations id {', '.join(map(str, ids))}"
                 if ids else "payload not recorded (no integration store)")
        message = (f"{model} does not match its contract: {fields}{more}; {invalid} of {total} "
                   f"records affected; {where}")
        first = broken[named[0]].sample
        return ContractViolation(message, payload=self.redactor.redact_value(first),
                                 vendor=vendor, endpoint=endpoint)

    def _record(self, kind: str, vendor: str, model: str, path: str, detail: str,
                sample: Any, count: int) -> int | None:
        """Upsert one observation, bumping `occurrences` by `count`; returns its id."""
        if self.engine is None:
            return None
        now = datetime.now(UTC)
        table = contract_observations
        stmt = pg_insert(table).values(
            vendor=vendor, model=model, kind=kind, field_path=path, detail=detail[:MAX_DETAIL],
            sample_payload=self.redactor.redact_value(sample), first_seen_at=now,
            last_seen_at=now, occurrences=count, last_run_id=self.run_id,
        )
        upsert = stmt.on_conflict_do_update(
            constraint="uq_contract_observation",
            set_={"detail": stmt.excluded.detail, "sample_payload": stmt.excluded.sample_payload,
                  "last_seen_at": now, "last_run_id": stmt.excluded.last_run_id,
                  "occurrences": table.c.occurrences + stmt.excluded.occurrences},
        ).returning(table.c.id)
        with self.engine.begin() as conn:
            return int(conn.execute(upsert).scalar_one())


def observations(conn: sa.Connection, *, vendor: str, kind: str,
                 run_id: str | None = None) -> Iterator[sa.Row[Any]]:
    """Recorded observations of a vendor and kind, those last seen by `run_id` if given."""
    query = sa.select(contract_observations).where(contract_observations.c.vendor == vendor,
                                                   contract_observations.c.kind == kind)
    if run_id is not None:
        query = query.where(contract_observations.c.last_run_id == run_id)
    yield from conn.execute(query.order_by(contract_observations.c.model,
                                           contract_observations.c.field_path))
