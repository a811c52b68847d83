"""QuickBooks Online query language: grammar, escaping, paging and response shapes."""

from __future__ import annotations

import httpx
import pytest

from integrations_pipelines_tests.builders import invoice_body

from .test_quickbooks import customer


def query(qbo: httpx.Client, text: str) -> httpx.Response:
    return qbo.get("/query", params={"query": text})


@pytest.fixture
def invoices(qbo: httpx.Client, quickbooks: tuple) -> list[str]:
    """Twelve invoices for two customers, one of them with an apostrophe."""
    quickbooks[1].update_settings({"per_second": 1000})
    ids = []
    for index, name in enumerate(["Pat O'Brien", "Ana Silva"] * 6):
        cust = qbo.get("/query", params={
            "query": "select * from Customer where DisplayName = '"
                     + name.replace("'", "\\'") + "'"}).json()["QueryResponse"]
        cust_id = cust["Customer"][0]["Id"] if cust else customer(qbo, name)["Id"]
        body = invoice_body(cust_id, DocNumber=f"{1001 + index}")
        ids.append(qbo.post("/invoice", json=body).json()["Invoice"]["Id"])
    return ids


def test_escaped_apostrophe_matches(qbo: httpx.Client, invoices: list[str]) -> None:
    found = query(qbo, "SELECT * FROM Customer WHERE DisplayName = 'Pat O\\'Brien'")
    assert found.status_code == 200
    assert [c["DisplayName"] for c in found.json()["QueryResponse"]["Customer"]] == [
        "Pat O'Brien"]


def test_unescaped_apostrophe_is_parser_error(qbo: httpx.Client, invoices: list[str]) -> None:
    response = query(qbo, "select * from Customer where DisplayName = 'Pat O'Brien'")
    assert response.status_code == 400
    error = response.json()["Fault"]["Error"][0]
    assert error["code"] == "4000" and "QueryParserError" in error["Detail"]


def test_empty_result_has_no_entity_key(qbo: httpx.Client, invoices: list[str]) -> None:
    response = query(qbo, "select * from Invoice where DocNumber = 'nope'")
    assert response.json()["QueryResponse"] == {} and "time" in response.json()


def test_count(qbo: httpx.Client, invoices: list[str]) -> None:
    response = query(qbo, "select count(*) from Invoice where TotalAmt > '10'")
    assert response.json()["QueryResponse"] == {"totalCount": 12}


def test_startposition_maxresults_paging(qbo: httpx.Client, invoices: list[str]) -> None:
    seen: list[str] = []
    start = 1
    while True:
        page = query(qbo, f"select * from Invoice startposition {start} maxresults 5").json()
        rows = page["QueryResponse"].get("Invoice", [])
        if not rows:
            break
        assert page["QueryResponse"]["startPosition"] == start
        assert page["QueryResponse"]["maxResults"] == len(rows)
        seen += [r["Id"] for r in rows]
        start += len(rows)
    assert seen == sorted(invoices, key=int)


def test_operators_orderby_and_dotted_fields(qbo: httpx.Client, invoices: list[str]) -> None:
    rows = query(qbo, "select * from Invoice where DocNumber in ('1001', '1003') "
                      "and Metadata.LastUpdatedTime >= '2000-01-01T00:00:00-08:00' "
                      "orderby DocNumber desc").json()["QueryResponse"]["Invoice"]
    assert [r["DocNumber"] for r in rows] == ["1003", "1001"]
    liked = query(qbo, "select * from Customer where DisplayName like '%brien'").json()
    assert len(liked["QueryResponse"]["Customer"]) == 1
    by_customer = query(qbo, "select * from Invoice where CustomerRef = '"
                        + liked["QueryResponse"]["Customer"][0]["Id"] + "'").json()
    assert len(by_customer["QueryResponse"]["Invoice"]) == 6
    late = query(qbo, "select * from Invoice where MetaData.LastUpdatedTime > "
                      "'2100-01-01T00:00:00Z'")
    assert late.json()["QueryResponse"] == {}
    projected = query(qbo, "select Id, DocNumber from Invoice maxresults 1").json()
    assert set(projected["QueryResponse"]["Invoice"][0]) >= {"Id", "DocNumber"}
    assert "Line" not in projected["QueryResponse"]["Invoice"][0]


def test_post_query_and_bad_queries(qbo: httpx.Client, invoices: list[str]) -> None:
    posted = qbo.post("/query", content="select count(*) from Invoice",
                      headers={"Content-Type": "application/text"})
    assert posted.json()["QueryResponse"] == {"totalCount": 12}
    assert query(qbo, "select * from Nothing").status_code == 400
    assert query(qbo, "select * from Invoice where Bogus = '1'").json()["Fault"]["Error"][0][
        "code"] == "4001"
    assert query(qbo, "select * Invoice").status_code == 400


def test_default_and_capped_page_size(qbo: httpx.Client, invoices: list[str],
                                      quickbooks: tuple) -> None:
    _, store = quickbooks
    store.update_settings({"default_max_results": 4, "max_results_cap": 10})
    assert len(query(qbo, "select * from Invoice").json()["QueryResponse"]["Invoice"]) == 4
    capped = query(qbo, "select * from Invoice maxresults 1000").json()["QueryResponse"]
    assert capped["maxResults"] == 10
