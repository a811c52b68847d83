"""QuickBooks Online Customer and Invoice rules: validation and server-computed fields.

These are the accounting rules that make real Shopify-to-QBO syncs drop records: the
required references, Amount = Qty x UnitPrice, string limits, characters outside the Basic
Multilingual Plane, negative totals, the customer's fixed currency and unique display
names. Pure functions over plain dicts; the store supplies lookups and ids.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from integrations_pipelines.sandbox.quickbooks_errors import (
    QboFault,
    business,
    invalid,
    invalid_reference,
    required,
    too_long,
)
from integrations_pipelines.sandbox.quickbooks_tax import invoice_tax

__all__ = [
    "CENT",
    "CURRENCY_NAMES",
    "UK_TAX_CODES",
    "US_TAX_CODES",
    "Rules",
    "build_customer",
    "build_invoice",
    "check_text",
    "currency_ref",
    "number",
    "out",
    "void_fields",
]

CURRENCY_NAMES = {"USD": "United States Dollar", "EUR": "Euro", "GBP": "British Pound Sterling",
                  "CAD": "Canadian Dollar", "AUD": "Australian Dollar", "JPY": "Japanese Yen"}
CENT = Decimal("0.01")


US_TAX_CODES = {"2": "0.08"}  # a US company's sales tax codes (TxnTaxCodeRef) and rates
UK_TAX_CODES = {"2": "0.20", "3": "0.05", "4": "0", "5": "0"}  # 20% S, 5% R, 0% Z, exempt


@dataclass
class Rules:
    """The company settings that change validation and what QuickBooks computes.

    `country` "US" taxes lines TAX/NON (`automated_sales_tax`: QuickBooks computes the tax at
    `ast_rate` and ignores what was sent); any other country needs GlobalTaxCalculation and
    a tax code per line from `tax_codes` (id -> rate, as strings in settings).
    """

    multicurrency: bool = True
    home_currency: str = "USD"
    reject_astral_chars: bool = True
    enforce_unique_docnumber: bool = False
    country: str = "US"
    automated_sales_tax: bool = False
    ast_rate: str = "0.0825"
    tax_codes: dict[str, str] = field(default_factory=lambda: dict(US_TAX_CODES))


def currency_ref(code: str) -> dict[str, str]:
    """A QBO CurrencyRef."""
    return {"value": code, "name": CURRENCY_NAMES.get(code, code)}


def number(value: Any, element: str) -> Decimal:
    """A QBO numeric field (JSON number or numeric string)."""
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise invalid(f"Invalid number for {element}: {value!r}", element) from None


def out(value: Decimal) -> float | int:
    """Serialize a Decimal as QBO does (a JSON number)."""
    return int(value) if value == value.to_integral_value() else float(value)


def check_text(value: Any, element: str, maximum: int, rules: Rules) -> None:
    """Length limit and, when on, the Basic Multilingual Plane restriction."""
    if value is None:
        return
    text = str(value)
    if len(text) > maximum:
        raise too_long(element, maximum, len(text))
    if rules.reject_astral_chars and any(ord(ch) > 0xFFFF for ch in text):
        raise QboFault("6000", "A business validation error has occurred while processing "
                       "your request", f"Business Validation Error: {element} contains "
                       "characters that are not supported (outside the Basic Multilingual "
                       "Plane, e.g. emoji).", element)


def build_customer(body: dict[str, Any], existing: dict[str, Any] | None,
                   others: list[dict[str, Any]], rules: Rules) -> dict[str, Any]:
    """Validate a customer create/update and return its stored fields (without metadata)."""
    fields = {k: v for k, v in body.items()
              if k not in ("Id", "SyncToken", "sparse", "domain", "MetaData")}
    merged = {**(existing or {}), **fields} if (existing is None or body.get("sparse")) else {
        **fields}
    for element, maximum in (("GivenName", 100), ("FamilyName", 100), ("DisplayName", 500),
                             ("CompanyName", 100)):
        check_text(merged.get(element), element, maximum, rules)
    name = (merged.get("DisplayName") or "").strip()
    if not name:
        name = " ".join(str(merged[k]) for k in ("GivenName", "FamilyName")
                        if merged.get(k)).strip()
    if not name:
        raise required("DisplayName")
    check_text(name, "DisplayName", 500, rules)
    own_id = existing.get("Id") if existing else None
    if any(o.get("DisplayName", "").strip().casefold() == name.casefold()
           and o.get("Id") != own_id for o in others):
        raise QboFault("6240", "Duplicate Name Exists Error",
                       "The name supplied already exists. : Another customer, vendor or "
                       "employee is already using this name. Please use a different name.",
                       "DisplayName")
    merged["DisplayName"] = name
    merged.setdefault("FullyQualifiedName", name)
    merged["FullyQualifiedName"] = name
    merged.setdefault("PrintOnCheckName", name)
    email = merged.get("PrimaryEmailAddr")
    if email is not None and not isinstance(email, dict):
        raise invalid("PrimaryEmailAddr must be an object with Address", "PrimaryEmailAddr")
    code = ((merged.get("CurrencyRef") or {}).get("value") or rules.home_currency).upper()
    if not rules.multicurrency:
        code = rules.home_currency
    old = ((existing or {}).get("CurrencyRef") or {}).get("value")
    if old and old != code:
        raise business(f"You can't change the currency of customer '{name}' ({old}); a "
                       "customer's currency is fixed once set.", "CurrencyRef")
    merged["CurrencyRef"] = currency_ref(code)
    merged.setdefault("Balance", 0)
    merged.setdefault("Active", True)
    return merged


def build_invoice(body: dict[str, Any], existing: dict[str, Any] | None, rules: Rules, *,
                  customer: Callable[[str], dict[str, Any] | None],
                  item: Callable[[str], dict[str, Any] | None],
                  doc_number_taken: Callable[[str, str | None], bool],
                  today: str) -> dict[str, Any]:
    """Validate an invoice create/update and return its stored fields (without metadata).

    A sparse update merges top-level fields into `existing`; a `Line` array replaces the
    lines. Line ids, LineNum, the SubTotal line, TotalAmt and Balance are computed here.
    """
    fields = {k: v for k, v in body.items()
              if k not in ("Id", "SyncToken", "sparse", "domain", "MetaData", "TotalAmt",
                           "Balance", "HomeTotalAmt")}
    merged = {**(existing or {}), **fields} if (existing is None or body.get("sparse")) else {
        **fields}
    ref = merged.get("CustomerRef")
    ref_id = str(ref.get("value") if isinstance(ref, dict) else ref or "")
    if not ref_id:
        raise required("CustomerRef")
    cust = customer(ref_id)
    if cust is None:
        raise invalid_reference("Names", ref_id, "CustomerRef")
    merged["CustomerRef"] = {"value": ref_id, "name": cust["DisplayName"]}
    doc = merged.get("DocNumber")
    if doc is not None:
        if len(str(doc)) > 21:
            raise business(f"DocNumber (Invoice number) is too long: {len(str(doc))} characters "
                           "supplied, the maximum length is 21.", "DocNumber")
        if rules.enforce_unique_docnumber and doc_number_taken(str(doc), merged.get("Id")):
            raise QboFault("6140", "Duplicate Document Number Error",
                           f"Duplicate Document Number Error : You must specify a different "
                           f"number. This number has already been used. DocNumber={doc}",
                           "DocNumber")
    check_text(merged.get("PrivateNote"), "PrivateNote", 4000, rules)
    memo = merged.get("CustomerMemo")
    if memo is not None:
        check_text(memo.get("value") if isinstance(memo, dict) else memo,
                   "CustomerMemo", 1000, rules)
    cust_cur = cust["CurrencyRef"]["value"]
    cur = ((merged.get("CurrencyRef") or {}).get("value") or cust_cur).upper()
    if rules.multicurrency and cur != cust_cur:
        raise business(f"The currency of the transaction ({cur}) must match the currency of "
                       f"the customer {cust['DisplayName']!r} ({cust_cur}).", "CurrencyRef")
    if not rules.multicurrency:
        cur = rules.home_currency
    merged["CurrencyRef"] = currency_ref(cur)
    rate = number(merged.get("ExchangeRate", 1), "ExchangeRate")
    merged["ExchangeRate"] = out(rate)
    txn_date = str(merged.get("TxnDate") or today)
    if len(txn_date) != 10 or txn_date[4] != "-" or txn_date[7] != "-":
        raise invalid(f"Invalid date format for TxnDate: {txn_date}", "TxnDate")
    merged["TxnDate"] = txn_date
    merged.setdefault("DueDate", txn_date)
    lines, sales, discounts = _lines(merged.get("Line") or [], rules, item)
    number((merged.get("TxnTaxDetail") or {}).get("TotalTax", 0), "TxnTaxDetail.TotalTax")
    computed = invoice_tax(
        merged, [ln for ln in lines if ln["DetailType"] == "SalesItemLineDetail"], sales,
        discounts, country=rules.country, automated_sales_tax=rules.automated_sales_tax,
        ast_rate=Decimal(str(rules.ast_rate)),
        tax_codes={k: Decimal(str(v)) for k, v in rules.tax_codes.items()})
    total = computed.total
    if total < 0:
        raise business(f"Invoice amount cannot be negative (TotalAmt {total}).", "TotalAmt")
    lines.append({"Amount": out(sales), "DetailType": "SubTotalLineDetail",
                  "SubTotalLineDetail": {}})
    merged["Line"] = lines
    merged["TxnTaxDetail"] = computed.detail
    merged["TotalAmt"] = out(total)
    merged["Balance"] = out(total)
    if cur != rules.home_currency:
        merged["HomeTotalAmt"] = out((total * rate).quantize(CENT, ROUND_HALF_UP))
    else:
        merged.pop("HomeTotalAmt", None)
    for key, default in (("ApplyTaxAfterDiscount", False), ("PrintStatus", "NotSet"),
                         ("EmailStatus", "NotSet"), ("LinkedTxn", [])):
        merged.setdefault(key, default)
    return merged


def _lines(given: list[dict[str, Any]], rules: Rules,
           item: Callable[[str], dict[str, Any] | None]
           ) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
    lines, sales, discounts, num = [], Decimal("0"), Decimal("0"), 0
    for raw in given:
        kind = raw.get("DetailType")
        if kind == "SubTotalLineDetail":
            continue
        num += 1
        check_text(raw.get("Description"), "Line.Description", 4000, rules)
        line: dict[str, Any] = {"Id": str(num), "LineNum": num, "DetailType": kind}
        if raw.get("Description") is not None:
            line["Description"] = raw["Description"]
        if kind == "SalesItemLineDetail":
            amount, detail = _sales_line(raw, item)
            sales += amount
        elif kind == "DiscountLineDetail":
            detail = dict(raw.get("DiscountLineDetail") or {})
            detail.setdefault("PercentBased", False)
            if raw.get("Amount") is None:
                raise required("Line.Amount")
            amount = number(raw["Amount"], "Line.Amount")
            discounts += amount
        elif kind == "DescriptionOnly":
            amount, detail = Decimal("0"), dict(raw.get("DescriptionLineDetail") or {})
            kind = "DescriptionOnly"
        else:
            raise invalid(f"Unsupported Line.DetailType: {kind!r}", "Line.DetailType")
        line["Amount"] = out(amount)
        line[kind if kind != "DescriptionOnly" else "DescriptionLineDetail"] = detail
        lines.append(line)
    if not lines:
        raise business("You must fill out at least one split line.", "Line")
    return lines, sales, discounts


def _sales_line(raw: dict[str, Any], item: Callable[[str], dict[str, Any] | None]
                ) -> tuple[Decimal, dict[str, Any]]:
    detail = dict(raw.get("SalesItemLineDetail") or {})
    ref = detail.get("ItemRef")
    ref_id = str(ref.get("value") if isinstance(ref, dict) else ref or "")
    if not ref_id:
        raise required("Line.SalesItemLineDetail.ItemRef")
    found = item(ref_id)
    if found is None:
        raise invalid_reference("Item", ref_id, "Line.SalesItemLineDetail.ItemRef")
    detail["ItemRef"] = {"value": ref_id, "name": found["Name"]}
    if raw.get("Amount") is None:
        raise required("Line.Amount")
    amount = number(raw["Amount"], "Line.Amount")
    qty = detail.get("Qty")
    price = detail.get("UnitPrice")
    if qty is not None and price is not None:
        expected = (number(qty, "Qty") * number(price, "UnitPrice")).quantize(
            CENT, ROUND_HALF_UP)
        if expected != amount.quantize(CENT, ROUND_HALF_UP):
            raise QboFault("6070", "Amount calculation incorrect in the request: Amount is not "
                           "equal to UnitPrice * Qty",
                           f"Amount is not equal to UnitPrice * Qty. Supplied value:{amount} "
                           f"expected:{expected}", "Line.Amount")
    elif qty is not None:
        detail["UnitPrice"] = out(amount / number(qty, "Qty")) if number(qty, "Qty") else 0
    elif price is not None:
        unit = number(price, "UnitPrice")
        detail["Qty"] = out((amount / unit).quantize(Decimal("0.0001"))) if unit else 0
    else:
        detail["Qty"], detail["UnitPrice"] = 1, out(amount)
    for key in ("Qty", "UnitPrice"):
        if isinstance(detail.get(key), str):
            detail[key] = out(number(detail[key], key))
    return amount, detail


def void_fields(invoice: dict[str, Any]) -> dict[str, Any]:
    """What QBO does to a voided invoice: amounts and lines zeroed, note marked Voided."""
    voided = dict(invoice)
    lines = []
    for line in invoice.get("Line") or []:
        line = {**line, "Amount": 0}
        detail = line.get("SalesItemLineDetail")
        if detail is not None:
            line["SalesItemLineDetail"] = {**detail, "Qty": 0, "UnitPrice": 0}
        lines.append(line)
    voided["Line"] = lines
    voided["TotalAmt"] = 0
    voided["Balance"] = 0
    if "HomeTotalAmt" in voided:
        voided["HomeTotalAmt"] = 0
    voided["TxnTaxDetail"] = {**(invoice.get("TxnTaxDetail") or {}), "TotalTax": 0}
    note = invoice.get("PrivateNote")
    voided["PrivateNote"] = f"Voided - {note}" if note else "Voided"
    return voided
