"""The demo's staged incident: a bookkeeper's drift, made through the QuickBooks sandbox's
admin side over HTTP, is exactly one deleted invoice and one changed total of that day."""

from __future__ import annotations

from decimal import Decimal

from integrations_pipelines.dev_demo import backfill_progress, bookkeeper_drift
from integrations_pipelines_tests.builders import booked_invoice


def _invoice(books, doc: str, day: str, total: str) -> dict:
    return books.insert_invoice_raw(booked_invoice(doc, total, TxnDate=day,
                                                   CustomerRef={"value": "1"}, Line=[]))


def test_bookkeeper_deletes_one_invoice_and_changes_another_of_the_day(qbo_sandbox) -> None:
    server, books = qbo_sandbox
    _invoice(books, "S1002", "2026-11-30", "20.00")
    _invoice(books, "S1001", "2026-11-30", "12.50")
    _invoice(books, "S1000", "2026-11-29", "9.00")  # another day: untouched
    _invoice(books, "S0999", "2026-11-30", "0")  # nothing to change: never picked

    assert bookkeeper_drift(server.url, "2026-11-30") == ["S1001", "S1002"]
    live = {i["DocNumber"]: i for i in books.all_invoices() if i["_sandbox_status"] != "deleted"}
    assert set(live) == {"S1002", "S1000", "S0999"}
    assert Decimal(str(live["S1002"]["TotalAmt"])) == Decimal("30.00")
    assert Decimal(str(live["S1000"]["TotalAmt"])) == Decimal("9.00")


def test_a_day_without_two_invoices_stages_nothing(qbo_sandbox) -> None:
    server, books = qbo_sandbox
    _invoice(books, "S1001", "2026-11-30", "12.50")
    assert bookkeeper_drift(server.url, "2026-11-30") == []
    assert len(books.all_invoices()) == 1


def test_the_backfill_progress_line_counts_days_done_failed_and_running() -> None:
    """dev prints this instead of the daemon's lines: what a person waits for."""
    assert backfill_progress(["SUCCESS", "FAILURE", "STARTED", "QUEUED", None]) == (
        "2 of 5 days done (1 failed), 1 running")
    assert backfill_progress(["SUCCESS"] * 7) == "7 of 7 days done, 0 running"
