"""The QuickBooks Online query language, as far as integrations use it.

`select * | count(*) | f1, f2 from <Entity> [where c [and c]*] [orderby f [asc|desc]]
[startposition n] [maxresults m]`, with `=`, `<`, `>`, `<=`, `>=`, `in (...)`, `like '%x%'`.
String literals use single quotes and `\\'` for an apostrophe; a client that does not escape
`O'Brien` gets QBO's QueryParserError, which this parser reproduces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from integrations_pipelines.sandbox.quickbooks_errors import query_invalid, query_parse

__all__ = ["KEYWORDS", "QUERYABLE", "TOKEN", "Condition", "Query", "parse_query", "run_query"]

QUERYABLE: dict[str, set[str]] = {
    "Invoice": {"Id", "SyncToken", "DocNumber", "TxnDate", "DueDate", "CustomerRef",
                "CurrencyRef", "TotalAmt", "Balance", "MetaData", "PrivateNote",
                "ExchangeRate", "HomeTotalAmt", "BillEmail", "CustomerMemo", "EmailStatus",
                "PrintStatus", "TxnTaxDetail", "Line", "domain", "sparse"},
    "Customer": {"Id", "SyncToken", "DisplayName", "GivenName", "FamilyName", "CompanyName",
                 "PrimaryEmailAddr", "CurrencyRef", "Balance", "Active", "MetaData",
                 "FullyQualifiedName", "PrintOnCheckName", "domain", "sparse"},
    "Item": {"Id", "SyncToken", "Name", "Type", "Active", "MetaData", "FullyQualifiedName",
             "Sku", "UnitPrice", "domain", "sparse"},
}
KEYWORDS = {"select", "from", "where", "and", "orderby", "asc", "desc", "startposition",
            "maxresults", "in", "like", "count", "true", "false"}
TOKEN = re.compile(r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_][A-Za-z0-9_.]*)"
                   r"|(?P<op><=|>=|!=|<>|[=<>(),*])|(?P<quote>'))")


@dataclass
class Condition:
    """`field op value` (value is a list for `in`)."""

    path: list[str]
    op: str
    value: Any


@dataclass
class Query:
    """A parsed query."""

    entity: str
    count: bool = False
    fields: list[str] | None = None
    where: list[Condition] = field(default_factory=list)
    order: list[tuple[list[str], bool]] = field(default_factory=list)
    start: int = 1
    max_results: int | None = None


def _tokenize(text: str) -> list[tuple[str, Any, int]]:
    """(kind, value, column) tokens; strings honour the `\\'` escape."""
    tokens, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        match = TOKEN.match(text, pos)
        if match is None:
            col = len(text) - len(text[pos:].lstrip()) + 1
            raise query_parse(f'Lexical error at line 1, column {col}. Encountered: '
                              f'"{text[col - 1]}"')
        group = match.lastgroup
        assert group is not None  # every alternative of TOKEN is a named group
        col = match.start(group) + 1
        if match.lastgroup == "quote":
            chars: list[str] = []
            i = match.end()
            while True:
                if i >= len(text):
                    raise query_parse(f"Lexical error at line 1, column {len(text) + 1}. "
                                      f"Encountered: <EOF> after : \"'{''.join(chars)}\"")
                ch = text[i]
                if ch == "\\" and i + 1 < len(text):
                    chars.append(text[i + 1])
                    i += 2
                    continue
                if ch == "'":
                    break
                chars.append(ch)
                i += 1
            tokens.append(("str", "".join(chars), col))
            pos = i + 1
            continue
        kind = match.lastgroup or "op"
        value = match.group(kind)
        if kind == "ident" and value.lower() in KEYWORDS:
            kind, value = "kw", value.lower()
        tokens.append((kind, value, col))
        pos = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> tuple[str, Any, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def fail(self, expecting: str) -> Exception:
        tok = self.peek()
        if tok is None:
            return query_parse(f'Encountered "<EOF>" at end of query. Was expecting: {expecting}')
        label = {"ident": "<IDENTIFIER>", "str": "<STRING>", "num": "<INTEGER>"}.get(
            tok[0], tok[1])
        return query_parse(f'Encountered " {label} "{tok[1]} "" at line 1, column {tok[2]}. '
                           f"Was expecting: {expecting}")

    def take(self, kind: str, value: str | None = None) -> Any:
        tok = self.peek()
        if tok is None or tok[0] != kind or (value is not None and tok[1] != value):
            raise self.fail(value or kind)
        self.i += 1
        return tok[1]

    def accept(self, kind: str, value: str) -> bool:
        tok = self.peek()
        if tok is not None and tok[0] == kind and tok[1] == value:
            self.i += 1
            return True
        return False

    def literal(self) -> Any:
        tok = self.peek()
        if tok is None or tok[0] not in ("str", "num", "kw") or (
                tok[0] == "kw" and tok[1] not in ("true", "false")):
            raise self.fail("<STRING>")
        self.i += 1
        if tok[0] == "kw":
            return tok[1] == "true"
        return Decimal(tok[1]) if tok[0] == "num" else tok[1]

    def parse(self) -> Query:
        self.take("kw", "select")
        count, fields = False, None
        if self.accept("kw", "count"):
            self.take("op", "(")
            self.take("op", "*")
            self.take("op", ")")
            count = True
        elif not self.accept("op", "*"):
            fields = [self.take("ident")]
            while self.accept("op", ","):
                fields.append(self.take("ident"))
        self.take("kw", "from")
        query = Query(entity=self.take("ident"), count=count, fields=fields)
        if self.accept("kw", "where"):
            query.where.append(self.condition())
            while self.accept("kw", "and"):
                query.where.append(self.condition())
        if self.accept("kw", "orderby"):
            while True:
                path = self.take("ident").split(".")
                desc = self.accept("kw", "desc")
                if not desc:
                    self.accept("kw", "asc")
                query.order.append((path, desc))
                if not self.accept("op", ","):
                    break
        if self.accept("kw", "startposition"):
            query.start = int(self.take("num"))
        if self.accept("kw", "maxresults"):
            query.max_results = int(self.take("num"))
        if self.peek() is not None:
            raise self.fail('"where", "orderby", "startposition", "maxresults" or <EOF>')
        return query

    def condition(self) -> Condition:
        path = self.take("ident").split(".")
        if self.accept("kw", "in"):
            self.take("op", "(")
            values = [self.literal()]
            while self.accept("op", ","):
                values.append(self.literal())
            self.take("op", ")")
            return Condition(path, "in", values)
        if self.accept("kw", "like"):
            return Condition(path, "like", self.take("str"))
        tok = self.peek()
        if tok is None or tok[0] != "op" or tok[1] not in ("=", "<", ">", "<=", ">="):
            raise self.fail('"=", "<", ">", "<=", ">=", "in" or "like"')
        self.i += 1
        return Condition(path, tok[1], self.literal())


def parse_query(text: str) -> Query:
    """Parse a QBO query; raises a QBO Fault (4000 parse, 4001 validation)."""
    query = _Parser(text.strip()).parse()
    entity = {name.lower(): name for name in QUERYABLE}.get(query.entity.lower())
    if entity is None:
        raise query_invalid(f"Entity '{query.entity}' is not supported.")
    query.entity = entity
    allowed = {name.lower(): name for name in QUERYABLE[entity]}
    paths = [c.path for c in query.where] + [p for p, _ in query.order]
    paths += [f.split(".") for f in query.fields or []]
    for path in paths:
        if path[0].lower() not in allowed:
            raise query_invalid(f"property '{'.'.join(path)}' is not queryable")
        path[0] = allowed[path[0].lower()]
    if query.fields:
        query.fields = [allowed[f.split(".")[0].lower()] for f in query.fields]
    return query


def _resolve(entity: dict[str, Any], path: list[str]) -> Any:
    value: Any = entity
    for part in path:
        if not isinstance(value, dict):
            return None
        if part in value:  # the usual spelling; property names are case-insensitive
            value = value[part]
            continue
        lowered = {k.lower(): k for k in value}
        key = lowered.get(part.lower())
        value = value.get(key) if key is not None else None
    if isinstance(value, dict) and "value" in value:
        value = value["value"]
    if isinstance(value, dict) and "Address" in value:
        value = value["Address"]
    return value


def _time(text: str, offset_hours: float) -> datetime | None:
    if not isinstance(text, str) or "T" not in text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone(timedelta(hours=offset_hours)))
    return moment.astimezone(UTC)


def _key(value: Any, offset_hours: float) -> tuple[int, Any]:
    """Comparable form: numbers numerically, timestamps as instants, text case-folded."""
    if isinstance(value, bool):
        return (0, int(value))
    if isinstance(value, int | float | Decimal):
        return (1, Decimal(str(value)))
    if isinstance(value, str):
        if re.fullmatch(r"-?\d+(\.\d+)?", value):
            return (1, Decimal(value))
        moment = _time(value, offset_hours)
        if moment is not None:
            return (2, moment)
        return (3, value.casefold())
    return (4, str(value))


@lru_cache(maxsize=256)
def _like(pattern: str) -> re.Pattern[str]:
    """`like` with `%` wildcards, case-insensitive, compiled once per pattern."""
    regex = "".join(".*" if ch == "%" else re.escape(ch) for ch in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


@lru_cache(maxsize=256)
def _in_keys(values: tuple[Any, ...], offset_hours: float) -> frozenset[tuple[int, Any]]:
    """The comparable forms of an `in (...)` list, computed once per query."""
    return frozenset(_key(v, offset_hours) for v in values)


def _matches(entity: dict[str, Any], cond: Condition, offset_hours: float) -> bool:
    value = _resolve(entity, cond.path)
    if value is None:
        return False
    if cond.op == "like":
        return _like(cond.value).fullmatch(str(value)) is not None
    left = _key(value, offset_hours)
    if cond.op == "in":
        return left in _in_keys(tuple(cond.value), offset_hours)
    right = _key(cond.value, offset_hours)
    if left[0] != right[0]:
        left, right = (3, str(value).casefold()), (3, str(cond.value).casefold())
    ops = {"=": left == right, "<": left < right, ">": left > right,
           "<=": left <= right, ">=": left >= right}
    return ops[cond.op]


def run_query(query: Query, entities: list[dict[str, Any]], *, default_max: int = 100,
              max_cap: int = 1000, offset_hours: float = 0) -> dict[str, Any]:
    """Evaluate a parsed query over the entities; returns the `QueryResponse` object."""
    found = [e for e in entities if all(_matches(e, c, offset_hours) for c in query.where)]
    if query.count:
        return {"totalCount": len(found)}
    found.sort(key=lambda e: _key(e.get("Id"), offset_hours))
    for path, desc in reversed(query.order):
        present = [e for e in found if _resolve(e, path) is not None]
        absent = [e for e in found if _resolve(e, path) is None]
        present.sort(key=lambda e: _key(_resolve(e, path), offset_hours), reverse=desc)
        found = present + absent
    start = max(query.start, 1)
    size = min(query.max_results if query.max_results is not None else default_max, max_cap)
    page = found[start - 1: start - 1 + max(size, 0)]
    if not page:
        return {}
    if query.fields:
        page = [{k: e[k] for k in query.fields if k in e} | {"domain": "QBO", "sparse": True}
                for e in page]
    return {query.entity: page, "startPosition": start, "maxResults": len(page)}
