"""Reconciliation in Dagster, end to end on both sandboxes: after a normal sync, drift of every
class is injected the way real vendor data drifts (a bookkeeper's edits, a merchant's refund,
a late order); the check on `quickbooks/invoices` must name each key's class and cause, and
the repair job must bring every count to zero (duplicates only under `void_duplicates`)."""

from __future__ import annotations

from decimal import Decimal

import dagster as dg
import pytest

from integrations_pipelines import cli
from integrations_pipelines.catalog import integration
from integrations_pipelines_tests.reconciliation.drift import (
    DAY,
    INVOICES_KEY,
    LATE,
    ORDERS_KEY,
    REPAIR_JOB,
    REPAIR_NODE,
    SAMPLE_JOB,
    Bookkeeper,
    Merchant,
    by_number,
    causes,
    counts,
    evaluation,
    keys,
    run,
    small_shop,
)
from integrations_pipelines_tests.support import definitions_for, sandbox_resources

# The nightly job and the repair job, end to end in Dagster.
pytestmark = pytest.mark.slow

NAME = "shopify_to_quickbooks"
CLEAN = {"missing": 0, "extra": 0, "duplicate": 0, "stale": 0, "wrong_values": 0}


def _setup(database_url, shop_sandbox, qbo_sandbox, orders):
    shop_server, shop = shop_sandbox(orders)
    qbo_server, books = qbo_sandbox
    books.update_settings({"per_second": 1000, "per_minute": 100000})  # not about throttling
    resources = sandbox_resources(database_url, shop_server.url, shop.access_token,
                                  qbo_server.url, books)
    return definitions_for(resources), Bookkeeper(qbo_server.url), Merchant(shop_server.url)


def test_every_class_is_found_explained_sampled_and_repaired(
        database_url, dagster_instance, shop_sandbox, qbo_sandbox, monkeypatch, capsys):
    monkeypatch.setattr(integration(NAME), "duplicate_policy", "void_duplicates")
    orders = small_shop()
    late = by_number(orders, LATE)
    defs, bookkeeper, merchant = _setup(database_url, shop_sandbox, qbo_sandbox,
                                        [o for o in orders if o is not late])

    nightly = run(defs, dagster_instance)
    assert nightly.success
    clean = evaluation(nightly)
    assert clean.passed
    assert counts(clean) == CLEAN | {"ok": 22, "dead_lettered": 1}

    deleted = bookkeeper.delete("S1002")
    renumbered = bookkeeper.edit("S1003", {"DocNumber": "S1003-R"})
    total = bookkeeper.invoice("S1006")["TotalAmt"]
    bookkeeper.edit("S1006", {"TotalAmt": total + 10, "Balance": total + 10})
    assert bookkeeper.invoice("S1008")["TxnTaxDetail"]["TotalTax"] != 0.5
    bookkeeper.edit("S1008", {"TxnTaxDetail": {"TotalTax": 0.5}})
    copy = bookkeeper.copy("S1011")
    foreign = bookkeeper.copy("S1001", DocNumber="MANUAL-7", PrivateNote="wholesale, by phone")
    merchant.refund(by_number(orders, 1010)["id"], "5.00", "2026-11-07T10:00:00Z")
    merchant.add(late)

    # The orders are extracted again, then the invoices read back, with no sync in between:
    # what reconciliation sees when an update has not reached QuickBooks yet.
    assert run(defs, dagster_instance, asset_selection=[ORDERS_KEY]).success
    found = run(defs, dagster_instance, asset_selection=[INVOICES_KEY])
    check = evaluation(found)
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert counts(check) == {"missing": 3, "extra": 1, "duplicate": 1, "stale": 1,
                             "wrong_values": 2, "ok": 16, "dead_lettered": 1}
    assert keys(check) == {"missing": ["S1002", "S1003", "S1024"], "extra": ["S1003-R"],
                           "duplicate": ["S1011"], "stale": ["S1010"],
                           "wrong_values": ["S1006", "S1008"]}
    assert causes(check) == {
        ("missing", "deleted_in_destination", 1), ("missing", "renumbered_in_destination", 1),
        ("missing", "never_synced", 1), ("extra", "renumbered_in_destination", 1),
        ("duplicate", "retried_create", 1), ("stale", "update_not_synced", 1),
        ("wrong_values", "changed_after_sync", 1), ("wrong_values", "edge_case", 1),
    }
    assert check.metadata["drift_rate"].value == pytest.approx(8 / 24)
    assert check.metadata["differing_fields"].value == {
        "currency": 0, "total": 2, "tax": 1, "customer_tag": 0, "voided": 0}
    examples = check.metadata["examples"].value
    assert f"synced as {deleted} but gone from the destination" in examples
    assert f"invoice {renumbered} now has DocNumber S1003-R" in examples
    assert "edge case: edge:multi_currency (currency and exchange rate)" in examples
    assert f"ledger id {bookkeeper.invoice('S1001')['Id']}" not in examples
    assert "MANUAL-7" not in examples

    # Step one of the fix: the CLI prints both sides of the wrong invoices, row by row.
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert cli.main(["reconcile", "sample", "--integration", NAME, "--date", DAY.isoformat(),
                     "-n", "5", "--class", "wrong_values"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("window 2026-11-06..2026-11-07: missing 3, extra 1")
    header = [c.strip() for c in lines[2].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True))
            for line in lines[4:]]
    assert [(r["key"], r["side"], r["differs"]) for r in rows] == [
        ("S1006", "shopify", "total"), ("", "quickbooks", ""),
        ("S1008", "shopify", "tax"), ("", "quickbooks", "")]
    assert float(rows[1]["total"]) == pytest.approx(float(rows[0]["total"]) + 10)
    assert (rows[2]["tax"], rows[3]["tax"]) != ("0.50", "0.50") and rows[3]["tax"] == "0.50"
    assert rows[2]["class"] == "wrong_values" and rows[2]["cause"].startswith("edge case")

    # ... and the Dagster job does the same from run config, as markdown on its output.
    sample = defs.resolve_job_def(SAMPLE_JOB).execute_in_process(
        instance=dagster_instance, run_config={"ops": {
            "shopify_to_quickbooks__sample_comparison": {"config": {
                "partition": DAY.isoformat(), "n": 10, "discrepancy_class": "duplicate"}}}})
    [output] = [e for e in sample.all_events if e.is_successful_output]
    table = output.event_specific_data.metadata["comparison"].value
    assert table.count("| S1011 |") == 1 and table.count("| quickbooks | invoice ") == 2
    assert f"invoice {copy}" in table and "several invoices" in table

    repaired = run(defs, dagster_instance, REPAIR_JOB)
    assert repaired.success
    after = evaluation(repaired)
    assert after.passed
    assert counts(after) == CLEAN | {"ok": 23, "dead_lettered": 1}
    assert evaluation(repaired, "every_synced_order_has_one_invoice").passed
    done = repaired.asset_materializations_for_node(REPAIR_NODE)[0].metadata
    assert (done["repair_orders_resynced"].value, done["repair_invoices_created"].value,
            done["repair_invoices_updated"].value,
            done["repair_duplicates_voided"].value) == (7, 2, 5, 1)
    assert done["repair_voided_invoice_ids"].value == [copy]
    # The day's total as QuickBooks states it, to the cent (a float sum would not be).
    read = [i for i in bookkeeper.invoices() if i["_sandbox_status"] != "deleted"]
    assert done["invoices_total_amount"].value == float(
        sum((Decimal(str(i["TotalAmt"])) for i in read), Decimal(0)))
    assert len(repr(done["invoices_total_amount"].value).partition(".")[2]) <= 2
    invoices = {i["Id"]: i for i in bookkeeper.invoices()}
    assert {i: v["_sandbox_status"] for i, v in invoices.items()
            if v["_sandbox_status"] != "active"} == {deleted: "deleted", copy: "voided"}
    assert invoices[renumbered]["DocNumber"] == "S1003"
    assert invoices[foreign]["DocNumber"] == "MANUAL-7"


def test_nightly_run_fails_on_drift_and_report_only_repair_voids_nothing(
        database_url, dagster_instance, shop_sandbox, qbo_sandbox):
    assert integration(NAME).duplicate_policy == "report_only"
    orders = small_shop()
    defs, bookkeeper, merchant = _setup(database_url, shop_sandbox, qbo_sandbox, orders)
    assert run(defs, dagster_instance).success

    deleted = bookkeeper.delete("S1002")
    total = bookkeeper.invoice("S1006")["TotalAmt"]
    bookkeeper.edit("S1006", {"TotalAmt": total + 10, "Balance": total + 10})
    bookkeeper.copy("S1011")
    bookkeeper.copy("S1001", DocNumber="S99999", PrivateNote="made by hand")
    merchant.refund(by_number(orders, 1010)["id"], "5.00", "2026-11-07T10:00:00Z")

    nightly = run(defs, dagster_instance)
    assert not nightly.success  # a blocking check at ERROR stops the run
    sync = nightly.asset_materializations_for_node("shopify_to_quickbooks__invoice_sync")
    assert (sync[0].metadata["invoices_updated"].value,
            sync[0].metadata["invoices_created"].value) == (1, 0)  # the refund, nothing else
    check = evaluation(nightly)
    assert counts(check) == {"missing": 1, "extra": 1, "duplicate": 1, "stale": 0,
                             "wrong_values": 1, "ok": 20, "dead_lettered": 1}
    assert causes(check) == {
        ("missing", "deleted_in_destination", 1), ("extra", "no_source_record", 1),
        ("duplicate", "retried_create", 1), ("wrong_values", "changed_after_sync", 1)}
    assert not evaluation(nightly, "every_synced_order_has_one_invoice").passed

    repaired = run(defs, dagster_instance, REPAIR_JOB)
    assert not repaired.success
    after = evaluation(repaired)
    assert counts(after) == CLEAN | {"extra": 1, "duplicate": 1, "ok": 22, "dead_lettered": 1}
    assert keys(after) == {"extra": ["S99999"], "duplicate": ["S1011"]}
    done = repaired.asset_materializations_for_node(REPAIR_NODE)[0].metadata
    assert (done["repair_orders_resynced"].value, done["repair_duplicates_voided"].value,
            done["repair_duplicates_reported"].value,
            done["repair_extra_reported"].value) == (2, 0, 1, 1)
    statuses = {i["Id"]: i["_sandbox_status"] for i in bookkeeper.invoices()}
    assert {i: s for i, s in statuses.items() if s != "active"} == {deleted: "deleted"}
