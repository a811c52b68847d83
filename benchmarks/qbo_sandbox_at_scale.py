"""The QuickBooks sandbox, with the stock answers, fast enough for 15,000 customers.

Two paths of the stock `QuickBooksStore` cost time in proportion to the company's size:
`query` deep-copies the whole table and then evaluates every condition on every row (a
regex and a key normalisation per row, per `in` value), and `save_customer` compares the
new name with every customer's. At the sizes the rate benchmark reaches (15,000 customers,
20,000 invoices) one customer lookup takes about 1 s, one `DocNumber in (200 values)`
lookup about 13 s and one customer create about 9 ms of the sandbox's only thread, so the
sandbox, not the client under test, would set the request rate.

`ScaledQuickBooksStore` gives the stock answers through the stock code, on fewer rows:

- `query` hands the stock `run_query` (which applies every condition as before) only a
  superset of the matching rows, deep-copied: for `DisplayName like '%[...]'` (the sync's
  customer lookup by its tag) the customers whose DisplayName's last `[` starts that tail,
  plus the customers whose DisplayName is not ASCII text and matches the very regex
  `_matches` builds; for other `like` patterns a scan with that regex; for an `in` of
  plain-text values, a set lookup of the case-folded value.
- `save_customer` runs the stock `save_customer` over a view of the company holding only
  the customer being updated and the customers with the same name: the only rows its
  duplicate-name check can hit (a body the stock validation rejects goes to the stock
  method over the whole company, so the same Fault comes first).

Everything else (HTTP app, throttle, tokens, invoices, validations, faults) is the stock
sandbox. Used by `sync_rate_benchmark.py` unless it is given `--stock-sandbox`; the same
indexes belong in `integrations_pipelines/sandbox/quickbooks_store.py` (then this module
can go).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from integrations_pipelines.sandbox.quickbooks_entities import build_customer
from integrations_pipelines.sandbox.quickbooks_errors import QboFault
from integrations_pipelines.sandbox.quickbooks_query import (
    Condition,
    _key,
    _resolve,
    parse_query,
    run_query,
)
from integrations_pipelines.sandbox.quickbooks_store import QuickBooksStore

Row = dict[str, Any]
TEXT = 3  # `_key`'s kind for plain text (neither a number nor a timestamp)


def _tag_tail(pattern: str) -> str | None:
    """`%[shopify:1:USD]` -> "[shopify:1:usd]": a pattern answered by the tail index."""
    tail = pattern[1:]
    if (pattern.startswith("%") and tail.startswith("[") and tail.isascii()
            and "[" not in tail[1:] and "%" not in tail):
        return tail.lower()
    return None


def _like(cond: Condition) -> Callable[[list[Row]], list[Row]]:
    """The rows a `like` condition matches, by the very regex `_matches` builds."""
    regex = "".join(".*" if ch == "%" else re.escape(ch) for ch in cond.value)
    compiled = re.compile(regex, re.IGNORECASE | re.DOTALL)

    def like(row: Row) -> bool:
        value = _resolve(row, cond.path)
        return value is not None and compiled.fullmatch(str(value)) is not None

    return lambda rows: [row for row in rows if like(row)]


def _narrowing(cond: Condition, offset_hours: float) -> Callable[[list[Row]], list[Row]] | None:
    """A filter keeping every row `_matches(row, cond)` is true for (and maybe a few more);
    None when there is no shortcut."""
    path, key = cond.path, cond.path[0] if len(cond.path) == 1 else None
    if cond.op == "like":
        return _like(cond)
    if cond.op == "in":
        keys = [_key(v, offset_hours) for v in cond.value]
        if key is None or not all(kind == TEXT for kind, _ in keys):
            return None  # numbers and timestamps compare by value: no shortcut
        wanted = {text for _, text in keys}

        def slow_in(row: Row) -> bool:
            # `_key(value) == (TEXT, v.casefold())` needs a str whose casefold is v's.
            value = _resolve(row, path)
            return isinstance(value, str) and value.casefold() in wanted

        def within(rows: list[Row]) -> list[Row]:
            kept = []
            for row in rows:
                value = row.get(key)
                if type(value) is str:
                    if value.casefold() in wanted:
                        kept.append(row)
                elif slow_in(row):
                    kept.append(row)
            return kept

        return within
    return None


class ScaledQuickBooksStore(QuickBooksStore):
    """The stock sandbox company, with customers indexed by name and by tag."""

    def _clear(self) -> None:
        super()._clear()
        self._indexed: dict[str, Row] | None = None

    def _index(self) -> None:
        """(Re)build the customer indexes if the table was replaced (reset, load)."""
        if self._indexed is self.customers:
            return
        self._by_tail: dict[str, dict[str, Row]] = {}
        self._by_name: dict[str, dict[str, Row]] = {}
        self._odd: dict[str, Row] = {}  # not ASCII text: the tail index cannot answer
        self._keys: dict[str, tuple[str | None, str]] = {}
        self._indexed = self.customers
        for row in self.customers.values():
            self._add(row)

    def _add(self, row: Row) -> None:
        ident = str(row.get("Id"))
        old = self._keys.pop(ident, None)
        if old is not None:
            if old[0] is not None:
                self._by_tail[old[0]].pop(ident, None)
            self._by_name[old[1]].pop(ident, None)
        self._odd.pop(ident, None)
        name = row.get("DisplayName")
        tail = None
        if type(name) is str and name.isascii():
            if "[" in name:
                tail = name[name.rfind("["):].lower()
                self._by_tail.setdefault(tail, {})[ident] = row
        else:
            self._odd[ident] = row
        folded = name.strip().casefold() if isinstance(name, str) else str(name)
        self._by_name.setdefault(folded, {})[ident] = row
        self._keys[ident] = (tail, folded)

    def query(self, text: str) -> dict[str, Any]:
        parsed = parse_query(text)
        with self._lock:
            rows: list[Row] | None = None
            rest = list(parsed.where)
            if parsed.entity == "Customer":
                self._index()
                for cond in parsed.where:
                    tail = _tag_tail(cond.value) if (
                        cond.op == "like" and cond.path == ["DisplayName"]
                        and isinstance(cond.value, str)) else None
                    if tail is not None:
                        rows = [*self._by_tail.get(tail, {}).values(),
                                *_like(cond)(list(self._odd.values()))]
                        rest.remove(cond)
                        break
            if rows is None:
                rows = list(self._table(parsed.entity).values())
            for cond in rest:
                narrow = _narrowing(cond, self.utc_offset_hours)
                if narrow is not None:
                    rows = narrow(rows)
            rows = copy.deepcopy(rows)
        return run_query(parsed, rows, default_max=self.default_max_results,
                         max_cap=self.max_results_cap, offset_hours=self.utc_offset_hours)

    def save_customer(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._index()
            existing = self._current("Customer", body) if "Id" in body else None
            try:
                name = build_customer(body, existing, [], self.rules)["DisplayName"]
            except QboFault:
                saved = super().save_customer(body)  # raises the stock Fault (RLock)
                self._add(self.customers[saved["Id"]])
                return saved
            view = dict(self._by_name.get(name.casefold(), {}))
            if existing is not None:
                view[existing["Id"]] = self.customers[existing["Id"]]
            table, self.customers = self.customers, view
            try:
                saved = super().save_customer(body)
            finally:
                self.customers = table
            row = view[saved["Id"]]
            table[saved["Id"]] = row
            self._add(row)
            return saved
