"""QuickBooks Online sales tax, as a company's region and tax settings decide it.

What makes real invoices come out with another total than the integration sent:
- US companies tax per line with `TaxCodeRef` `TAX` or `NON`. With automated sales tax (AST)
  on, QuickBooks picks the tax code and computes the tax itself, except that an explicit
  `TotalTax` in the request is honoured (Intuit: "the AST engine honors the amount"); a line
  without a code is taxable. Without AST the invoice names its tax code
  (`TxnTaxDetail.TxnTaxCodeRef`) and may override the amount.
- Non-US companies (UK, CA, AU, ...) require `GlobalTaxCalculation` (`TaxExcluded`,
  `TaxInclusive`, `NotApplicable`) and a tax code on every sales line; QuickBooks computes
  the tax per line from the code's rate (inside the line amounts when inclusive) unless the
  invoice gives the amount per rate in `TxnTaxDetail.TaxLine`.
`TotalAmt` is always computed here, never taken from the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from integrations_pipelines.sandbox.quickbooks_errors import QboFault, business, invalid_reference

__all__ = ["GLOBAL_MODES", "US_CODES", "TaxResult", "invoice_tax"]

CENT = Decimal("0.01")
US_CODES = ("TAX", "NON")
GLOBAL_MODES = ("TaxExcluded", "TaxInclusive", "NotApplicable")


@dataclass(frozen=True)
class TaxResult:
    """The invoice's tax as QuickBooks computes it, and its total."""

    tax: Decimal
    total: Decimal
    detail: dict[str, Any]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


def _code(line: dict[str, Any]) -> str | None:
    ref = (line.get("SalesItemLineDetail") or {}).get("TaxCodeRef")
    value = ref.get("value") if isinstance(ref, dict) else ref
    return str(value) if value not in (None, "") else None


def _number(value: Any) -> Decimal:
    return Decimal(str(value))


def invoice_tax(body: dict[str, Any], sales_lines: list[dict[str, Any]], sales: Decimal,
                discounts: Decimal, *, country: str, automated_sales_tax: bool,
                ast_rate: Decimal, tax_codes: dict[str, Decimal]) -> TaxResult:
    """Tax and total of an invoice whose sales lines (validated, with `Amount`) and discount
    total are known. Raises the Fault QuickBooks answers when the tax is not expressed the
    way the company needs it."""
    sent = dict(body.get("TxnTaxDetail") or {})
    share = (sales - discounts) / sales if sales else Decimal(0)  # tax after discount
    if country == "US":
        return _us(sent, sales_lines, sales, discounts, share, automated_sales_tax, ast_rate,
                   tax_codes)
    mode = body.get("GlobalTaxCalculation")
    if mode not in GLOBAL_MODES:
        raise business("GlobalTaxCalculation is required for this company: TaxExcluded, "
                       "TaxInclusive or NotApplicable", "GlobalTaxCalculation")
    if mode == "NotApplicable":
        return TaxResult(Decimal(0), sales - discounts, {"TotalTax": 0})
    by_code: dict[str, Decimal] = {}
    for line in sales_lines:
        code = _code(line)
        if code is None:
            raise business("Make sure all your transactions have a VAT rate before you save "
                           "(Line.SalesItemLineDetail.TaxCodeRef)",
                           "Line.SalesItemLineDetail.TaxCodeRef")
        if code not in tax_codes:
            raise invalid_reference("TaxCode", code, "Line.SalesItemLineDetail.TaxCodeRef")
        by_code[code] = by_code.get(code, Decimal(0)) + _number(line["Amount"]) * share
    overrides = _overrides(sent, tax_codes)
    tax_lines, tax = [], Decimal(0)
    for code, net in sorted(by_code.items()):
        rate = tax_codes[code]
        computed = _cents(net * rate / (1 + rate) if mode == "TaxInclusive" else net * rate)
        amount = overrides.get(code, computed)
        base = net - amount if mode == "TaxInclusive" else net
        tax += amount
        detail = {"TaxRateRef": {"value": code}, "PercentBased": True,
                  "TaxPercent": float(rate * 100), "NetAmountTaxable": float(_cents(base))}
        if amount != computed:
            detail["OverrideDeltaAmount"] = float(amount - computed)
        tax_lines.append({"Amount": float(amount), "DetailType": "TaxLineDetail",
                          "TaxLineDetail": detail})
    total = sales - discounts if mode == "TaxInclusive" else sales - discounts + tax
    return TaxResult(tax, total, {"TotalTax": float(tax), "TaxLine": tax_lines})


def _overrides(sent: dict[str, Any], tax_codes: dict[str, Decimal]) -> dict[str, Decimal]:
    """Tax amounts per rate the invoice gives itself (`TaxLine[].TaxLineDetail.TaxRateRef`)."""
    found: dict[str, Decimal] = {}
    for line in sent.get("TaxLine") or []:
        detail = line.get("TaxLineDetail") or {}
        ref = (detail.get("TaxRateRef") or {}).get("value")
        if ref is None or line.get("Amount") is None:
            continue
        if str(ref) not in tax_codes:
            raise invalid_reference("TaxRate", ref, "TxnTaxDetail.TaxLine.TaxRateRef")
        found[str(ref)] = found.get(str(ref), Decimal(0)) + _cents(_number(line["Amount"]))
    return found


def _us(sent: dict[str, Any], sales_lines: list[dict[str, Any]], sales: Decimal,
        discounts: Decimal, share: Decimal, automated: bool, ast_rate: Decimal,
        tax_codes: dict[str, Decimal]) -> TaxResult:
    taxable = Decimal(0)
    for line in sales_lines:
        code = _code(line) or ("TAX" if automated else "NON")
        if code not in US_CODES:
            raise invalid_reference("TaxCode", code, "Line.SalesItemLineDetail.TaxCodeRef")
        if code == "TAX":
            taxable += _number(line["Amount"]) * share
    given = sent.get("TotalTax")
    if automated:
        # AST picks the code and computes from its own rates, unless told the amount.
        tax = _cents(_number(given)) if given is not None else _cents(taxable * ast_rate)
        detail: dict[str, Any] = {"TxnTaxCodeRef": {"value": "AST"}, "TotalTax": float(tax)}
        return TaxResult(tax, sales - discounts + tax, detail)
    ref = (sent.get("TxnTaxCodeRef") or {}).get("value")
    if ref is None:
        if given not in (None, 0, "0") and _number(given) != 0:
            raise QboFault("6000", "A business validation error has occurred while "
                           "processing your request", "Business Validation Error: a sales "
                           "tax amount needs a sales tax rate (TxnTaxDetail.TxnTaxCodeRef)",
                           "TxnTaxDetail.TxnTaxCodeRef")
        return TaxResult(Decimal(0), sales - discounts, {"TotalTax": 0})
    if str(ref) not in tax_codes:
        raise invalid_reference("TaxCode", ref, "TxnTaxDetail.TxnTaxCodeRef")
    tax = _cents(_number(given)) if given is not None else _cents(taxable * tax_codes[str(ref)])
    return TaxResult(tax, sales - discounts + tax,
                     {"TxnTaxCodeRef": {"value": str(ref)}, "TotalTax": float(tax)})
