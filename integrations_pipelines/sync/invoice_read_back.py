"""A window's QuickBooks invoices read back into the raw store, a page at a time.

What the books really say is what every check and the repair compare the orders with, so
the window's invoices are read from QuickBooks (a query on `TxnDate`, STARTPOSITION pages)
and stored as the company's `quickbooks/invoices` raw records. A window of any length is
held one page at a time: each page is stored (`raw.WindowReplacement`) and committed before
the next is asked for, and the figures the read-back reports (how many invoices, how many
voided, their total) are summed as the pages go by. The window's stored invoices that no
page had (deleted in QuickBooks) are deleted once the last page is stored; a read that
fails halfway deletes nothing, and its re-run completes the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import islice
from typing import Any

import sqlalchemy as sa

from integrations_pipelines.state import raw
from integrations_pipelines.vendors.quickbooks.client import QuickBooksClient, quote
from integrations_pipelines.vendors.quickbooks.records import invoice_record, invoices_kind
from integrations_pipelines.vendors.quickbooks.writer import is_voided

__all__ = ["PAGE", "ReadBack", "read_back_window", "window_condition"]

PAGE = raw.CHUNK  # invoices stored (and held) together


@dataclass
class ReadBack:
    """What a read-back found: invoices read, how many are voided, their summed TotalAmt
    (as decimals: a float sum prints 12251.369999999995), and what the store wrote."""

    read: int = 0
    voided: int = 0
    total_amount: Decimal = Decimal(0)
    written: int = 0
    deleted: int = 0

    def count(self, invoices: Iterable[dict[str, Any]]) -> None:
        """Add one page's invoices to the figures."""
        for invoice in invoices:
            self.read += 1
            self.voided += is_voided(invoice)
            self.total_amount += Decimal(str(invoice["TotalAmt"]))


def window_condition(start: date, end: date) -> str:
    """The QuickBooks query condition of the invoices of business days [start, end)."""
    return f"TxnDate >= {quote(start.isoformat())} and TxnDate < {quote(end.isoformat())}"


def _pages(rows: Iterator[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    while page := list(islice(rows, size)):
        yield page


def read_back_window(engine: sa.Engine, client: QuickBooksClient, start: date, end: date,
                     run_id: str | None, *, page: int = PAGE) -> ReadBack:
    """Make the company's stored invoices of business days [start, end) what QuickBooks
    holds now, `page` invoices at a time (each page committed before the next is read)."""
    figures = ReadBack()
    rows = client.query("Invoice", window_condition(start, end))
    with engine.connect() as conn:
        replacement = raw.WindowReplacement(conn, invoices_kind(client.realm_id), start, end,
                                            run_id)
        conn.commit()
        for invoices in _pages(rows, page):
            figures.count(invoices)
            replacement.add([invoice_record(invoice) for invoice in invoices])
            conn.commit()
            del invoices  # nothing of a stored page outlives it
        done = replacement.finish()
        conn.commit()
    figures.written, figures.deleted = replacement.written, done.deleted
    return figures
