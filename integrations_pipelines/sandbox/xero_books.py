"""The books of one Xero organisation in the sandbox: invoices, credit notes, payments and
contacts, with the rules Xero applies and the figures it computes.

A UK organisation (base currency GBP) with its tax rates (`OUTPUT2` 20%, `RROUTPUT` 5%,
`ZERORATEDOUTPUT`, `EXEMPTOUTPUT`, `NONE`) and a chart of accounts. Xero computes every
line's amount (quantity x unit amount less the discount) and its tax (from the rate, or the
`TaxAmount` sent when it is within rounding of it), and each document's `SubTotal`,
`TotalTax`, `Total`, `AmountPaid`, `AmountCredited` and `AmountDue`; an invoice paid or
credited in full becomes PAID and goes back to AUTHORISED when a payment is deleted.
Refusals are `BooksError`s carrying Xero's messages: an unknown tax type or account, a
duplicate invoice number, a character Xero's API refuses (the sandbox's stand-in: 4-byte
UTF-8 such as emoji, and control characters), an over-allocation, a payment over the amount
due or against a document that is not AUTHORISED, a void of a document with payments or
credit allocated, a delete of anything but a draft.
"""

from __future__ import annotations

import re
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from integrations_pipelines.vendors.xero.dates import ms_json

__all__ = ["ACCOUNTS", "RATES", "TAX_RATES", "Books", "BooksError"]

CENT = Decimal("0.01")
TAX_RATES = {"OUTPUT2": Decimal("20"), "RROUTPUT": Decimal("5"),
             "ZERORATEDOUTPUT": Decimal("0"), "EXEMPTOUTPUT": Decimal("0"),
             "NONE": Decimal("0")}
TAX_NAMES = {"OUTPUT2": "20% (VAT on Income)", "RROUTPUT": "5% (VAT on Income)",
             "ZERORATEDOUTPUT": "Zero Rated Income", "EXEMPTOUTPUT": "Exempt Income",
             "NONE": "No VAT"}
# code -> (type, payments enabled)
ACCOUNTS = {"200": ("REVENUE", False), "260": ("OTHERINCOME", False),
            "835": ("CURRLIAB", False), "090": ("BANK", True), "091": ("BANK", True)}
RATES = {"GBP": Decimal("1"), "EUR": Decimal("1.1700"), "USD": Decimal("1.2700"),
         "CAD": Decimal("1.7200"), "AUD": Decimal("1.9300")}  # units per GBP
TAX_TOLERANCE = Decimal("1.00")
_REFUSED_TEXT = re.compile("[\U00010000-\U0010FFFF\x00-\x08\x0b\x0c\x0e-\x1f]")
TEXT_FIELDS = ("Description",)


class BooksError(Exception):
    """Xero refused a document: its validation messages."""

    def __init__(self, *messages: str, status: int = 400) -> None:
        super().__init__("; ".join(messages))
        self.messages = list(messages)
        self.status = status


def _dec(value: Any, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise BooksError(f"{name} must be a number")
    try:
        return Decimal(str(value))
    except ArithmeticError:
        raise BooksError(f"{name} must be a number") from None


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _text(value: Any, where: str) -> str:
    text = "" if value is None else str(value)
    if _REFUSED_TEXT.search(text):
        raise BooksError(f"{where} contains characters that are not supported. Remove emoji "
                         "and other unsupported characters.")
    return text


@dataclass
class Books:
    """One organisation's documents, behind one lock."""

    tenant_id: str
    name: str = "Sandbox UK Ltd"
    base_currency: str = "GBP"
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    credit_notes: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)  # for the webhooks
    history: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # notes by invoice
    lock: threading.RLock = field(default_factory=threading.RLock)
    numbers_refused_as_duplicates: int = 0  # how often a writer raced another one

    # -- shared pieces ------------------------------------------------------------------
    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _contact(self, given: Any) -> dict[str, Any]:
        if not isinstance(given, dict) or not (given.get("ContactID") or given.get("Name")):
            raise BooksError("A Contact must be specified for this type of transaction")
        if given.get("ContactID"):
            for contact in self.contacts.values():
                if contact["ContactID"] == given["ContactID"]:
                    return contact
            raise BooksError("Contact could not be found")
        name = _text(given["Name"], "The contact name").strip()
        if len(name) > 255:
            raise BooksError("The contact name must be 255 characters or less")
        if name not in self.contacts:
            self.contacts[name] = {"ContactID": str(uuid.uuid4()), "Name": name,
                                   "EmailAddress": given.get("EmailAddress") or "",
                                   "ContactStatus": "ACTIVE"}
        return self.contacts[name]

    def _lines(self, given: Any, basis: str) -> tuple[list[dict[str, Any]], Decimal, Decimal]:
        if not isinstance(given, list) or not given:
            raise BooksError("At least one line item is required")
        lines, subtotal, tax_total = [], Decimal(0), Decimal(0)
        for n, line in enumerate(given, 1):
            if not isinstance(line, dict):
                raise BooksError(f"Line item {n} is invalid")
            description = _text(line.get("Description"), "The description")
            if len(description) > 4000:
                raise BooksError("The description must be 4000 characters or less")
            quantity = _dec(line.get("Quantity", 1), "Quantity")
            unit = _dec(line.get("UnitAmount", 0), "UnitAmount")
            discount = _dec(line.get("DiscountAmount", 0), "DiscountAmount")
            amount = _round(quantity * unit - discount)
            code = line.get("AccountCode")
            if code not in ACCOUNTS:
                raise BooksError(f"Account code '{code}' is not a valid code for this document.")
            tax_type = line.get("TaxType") or "NONE"
            if tax_type not in TAX_RATES:
                raise BooksError(f"The TaxType code '{tax_type}' does not exist or cannot be "
                                 "used for this type of transaction.")
            rate = TAX_RATES[tax_type] / 100
            computed = _round(amount * rate / (1 + rate)) if basis == "Inclusive" else (
                _round(amount * rate) if basis == "Exclusive" else Decimal(0))
            tax = computed
            if "TaxAmount" in line and basis != "NoTax":
                sent = _round(_dec(line["TaxAmount"], "TaxAmount"))
                if abs(sent - computed) > TAX_TOLERANCE:
                    raise BooksError(f"The TaxAmount {sent} on line {n} differs from the tax "
                                     f"calculated for {tax_type} ({computed}) by more than "
                                     "the rounding allowed.")
                tax = sent
            lines.append({"LineItemID": str(uuid.uuid4()), "Description": description,
                          "Quantity": float(quantity), "UnitAmount": float(unit),
                          "DiscountAmount": float(discount) if discount else None,
                          "AccountCode": code, "TaxType": tax_type, "TaxAmount": float(tax),
                          "LineAmount": float(amount)})
            subtotal += amount - (tax if basis == "Inclusive" else 0)
            tax_total += tax
        return lines, subtotal, tax_total

    def _document(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        """The shared validation and arithmetic of an invoice or a credit note."""
        basis = body.get("LineAmountTypes") or "Exclusive"
        if basis not in ("Exclusive", "Inclusive", "NoTax"):
            raise BooksError(f"LineAmountTypes '{basis}' is not valid")
        currency = body.get("CurrencyCode") or self.base_currency
        if currency not in RATES:
            raise BooksError(f"The currency code '{currency}' is not subscribed for this "
                             "organisation")
        errors: list[str] = []
        try:
            contact = self._contact(body.get("Contact"))
        except BooksError as exc:
            errors.extend(exc.messages)
            contact = {}
        try:
            lines, subtotal, tax = self._lines(body.get("LineItems"), basis)
        except BooksError as exc:
            errors.extend(exc.messages)
            lines, subtotal, tax = [], Decimal(0), Decimal(0)
        try:
            reference = _text(body.get("Reference"), "The reference")
        except BooksError as exc:
            errors.extend(exc.messages)
            reference = ""
        if errors:
            raise BooksError(*errors)
        total = subtotal + tax
        if total < 0:
            raise BooksError(f"The {kind} total cannot be negative")
        on = date.fromisoformat(str(body.get("Date") or self._now().date().isoformat())[:10])
        status = body.get("Status") or "DRAFT"
        if status not in ("DRAFT", "SUBMITTED", "AUTHORISED"):
            raise BooksError(f"Status '{status}' cannot be used on a new {kind}")
        return {"Type": body.get("Type"), "Contact": {"ContactID": contact["ContactID"],
                                                      "Name": contact["Name"]},
                "Date": ms_json(datetime(on.year, on.month, on.day, tzinfo=UTC)),
                "DateString": f"{on.isoformat()}T00:00:00", "Status": status,
                "LineAmountTypes": basis, "LineItems": lines, "Reference": reference,
                "CurrencyCode": currency,
                "CurrencyRate": float(body.get("CurrencyRate") or RATES[currency]),
                "SubTotal": float(subtotal), "TotalTax": float(tax), "Total": float(total),
                "HasErrors": False}

    def _touch(self, document: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        document["UpdatedDateUTC"] = ms_json(now)
        if "InvoiceID" in document and "PaymentID" not in document:
            self.events.append({
                "resourceId": document["InvoiceID"], "eventCategory": "INVOICE",
                "eventType": "UPDATE" if "AmountDue" in document else "CREATE",
                "eventDateUtc": now.isoformat(timespec="milliseconds"),
                "tenantId": self.tenant_id, "tenantType": "ORGANISATION",
                "resourceUrl": f"https://api.xero.com/api.xro/2.0/Invoices/"
                               f"{document['InvoiceID']}"})
        return document

    # -- invoices -----------------------------------------------------------------------
    def _figures(self, invoice: dict[str, Any]) -> dict[str, Any]:
        """Xero's own arithmetic: paid, credited, due, and PAID when nothing is due."""
        paid = sum((Decimal(str(p["Amount"])) for p in self.payments.values()
                    if p["Invoice"]["InvoiceID"] == invoice["InvoiceID"]
                    and p["Status"] == "AUTHORISED"), Decimal(0))
        credited = sum((Decimal(str(a["Amount"])) for note in self.credit_notes.values()
                        for a in note["Allocations"]
                        if a["Invoice"]["InvoiceID"] == invoice["InvoiceID"]), Decimal(0))
        total = Decimal(str(invoice["Total"]))
        invoice["AmountPaid"] = float(paid)
        invoice["AmountCredited"] = float(credited)
        # A voided or deleted invoice owes nothing.
        closed = invoice["Status"] in ("VOIDED", "DELETED")
        invoice["AmountDue"] = 0.0 if closed else float(total - paid - credited)
        if invoice["Status"] in ("AUTHORISED", "PAID"):
            invoice["Status"] = "PAID" if total - paid - credited == 0 and (
                paid or credited) else "AUTHORISED"
        invoice["Payments"] = [{"PaymentID": p["PaymentID"], "Amount": p["Amount"],
                                "Date": p["Date"], "Reference": p.get("Reference", "")}
                               for p in self.payments.values()
                               if p["Invoice"]["InvoiceID"] == invoice["InvoiceID"]
                               and p["Status"] == "AUTHORISED"]
        invoice["CreditNotes"] = [
            {"CreditNoteID": n["CreditNoteID"], "CreditNoteNumber": n["CreditNoteNumber"],
             "Total": n["Total"], "AppliedAmount": float(sum(
                 (Decimal(str(a["Amount"])) for a in n["Allocations"]
                  if a["Invoice"]["InvoiceID"] == invoice["InvoiceID"]), Decimal(0)))}
            for n in self.credit_notes.values()
            if any(a["Invoice"]["InvoiceID"] == invoice["InvoiceID"] for a in n["Allocations"])]
        return invoice

    def invoice(self, invoice_id: str) -> dict[str, Any]:
        with self.lock:
            found = self.invoices.get(invoice_id)
            if found is None:
                raise BooksError("The resource you're looking for cannot be found", status=404)
            return self._figures(found)

    def create_invoice(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if body.get("Type") not in ("ACCREC", "ACCPAY"):
                raise BooksError("Invoice Type must be ACCREC or ACCPAY")
            number = body.get("InvoiceNumber")
            if number and any(i["InvoiceNumber"] == number and i["Status"] != "DELETED"
                              for i in self.invoices.values()):
                self.numbers_refused_as_duplicates += 1
                raise BooksError("Invoice # must be unique.")
            document = self._document(body, "invoice")
            invoice_id = str(uuid.uuid4())
            document.update({"InvoiceID": invoice_id,
                             "InvoiceNumber": number or f"INV-{len(self.invoices) + 1:04d}"})
            self.invoices[invoice_id] = self._touch(document)
            return self._figures(document)

    def update_invoice(self, invoice_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            invoice = self.invoice(invoice_id)
            status = body.get("Status")
            locked = bool(invoice["Payments"] or invoice["CreditNotes"])
            if status == "DELETED":
                if invoice["Status"] not in ("DRAFT", "SUBMITTED"):
                    raise BooksError("Only invoices with a status of DRAFT or SUBMITTED can be "
                                     "deleted; void an AUTHORISED invoice instead")
                invoice["Status"] = "DELETED"
            elif status == "VOIDED":
                if invoice["Status"] not in ("AUTHORISED", "SUBMITTED") or locked:
                    raise BooksError("This document cannot be voided as it has a payment or "
                                     "credit note allocated to it, or is not AUTHORISED")
                invoice["Status"] = "VOIDED"
            elif "LineItems" in body:
                if invoice["Status"] not in ("DRAFT", "SUBMITTED", "AUTHORISED") or locked:
                    raise BooksError("This document cannot be edited as it has a payment or "
                                     "credit note allocated to it.")
                merged = {**invoice, "Contact": {"ContactID": invoice["Contact"]["ContactID"]},
                          **body, "Date": invoice["DateString"][:10],
                          "Status": invoice["Status"]}
                document = self._document(merged, "invoice")
                for key in ("LineItems", "LineAmountTypes", "SubTotal", "TotalTax", "Total"):
                    invoice[key] = document[key]
            return self._figures(self._touch(invoice))

    def query_invoices(self, where: str | None, numbers: list[str] | None,
                       modified_since: datetime | None) -> list[dict[str, Any]]:
        with self.lock:
            found = [self._figures(i) for i in self.invoices.values()]
        if numbers is not None:
            found = [i for i in found if i["InvoiceNumber"] in numbers]
        if where:
            found = [i for i in found if _matches(i, where)]
        if modified_since is not None:
            found = [i for i in found if _updated(i) > modified_since]
        return found

    def query_credit_notes(self, where: str | None,
                           modified_since: datetime | None) -> list[dict[str, Any]]:
        """Credit notes by `where` (type, dates) and `If-Modified-Since`."""
        with self.lock:
            found = [dict(n, Allocations=list(n["Allocations"]))
                     for n in self.credit_notes.values()]
        if where:
            found = [n for n in found if _matches(n, where)]
        if modified_since is not None:
            found = [n for n in found if _updated(n) > modified_since]
        return found

    # -- credit notes, allocations, payments --------------------------------------------
    def create_credit_note(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if body.get("Type") not in ("ACCRECCREDIT", "ACCPAYCREDIT"):
                raise BooksError("Credit note Type must be ACCRECCREDIT or ACCPAYCREDIT")
            number = body.get("CreditNoteNumber")
            if number and any(n["CreditNoteNumber"] == number and n["Status"] != "DELETED"
                              for n in self.credit_notes.values()):
                raise BooksError("Credit Note # must be unique.")
            document = self._document(body, "credit note")
            note_id = str(uuid.uuid4())
            document.update({"CreditNoteID": note_id, "Allocations": [],
                             "CreditNoteNumber": number or f"CN-{len(self.credit_notes) + 1:04d}",
                             "RemainingCredit": document["Total"]})
            self.credit_notes[note_id] = self._touch(document)
            return document

    def allocate(self, note_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            note = self.credit_notes.get(note_id)
            if note is None:
                raise BooksError("The resource you're looking for cannot be found", status=404)
            allocations = body.get("Allocations") or []
            for allocation in allocations:
                invoice = self.invoice(str((allocation.get("Invoice") or {}).get("InvoiceID")))
                amount = _round(_dec(allocation.get("Amount"), "Amount"))
                if invoice["Status"] != "AUTHORISED":
                    raise BooksError("The invoice you are trying to allocate to has already "
                                     "been paid off or is not AUTHORISED")
                if note["Status"] != "AUTHORISED":
                    raise BooksError("Only AUTHORISED credit notes can be allocated")
                if invoice["CurrencyCode"] != note["CurrencyCode"]:
                    raise BooksError("The credit note and the invoice must be in the same "
                                     "currency")
                if amount > Decimal(str(invoice["AmountDue"])) or amount > Decimal(
                        str(note["RemainingCredit"])):
                    raise BooksError("Credit Note cannot be allocated as amount is greater "
                                     "than amount outstanding")
                note["Allocations"].append({"AllocationID": str(uuid.uuid4()),
                                            "Amount": float(amount),
                                            "Date": allocation.get("Date"),
                                            "Invoice": {"InvoiceID": invoice["InvoiceID"]}})
                note["RemainingCredit"] = float(Decimal(str(note["RemainingCredit"])) - amount)
                if not note["RemainingCredit"]:
                    note["Status"] = "PAID"
                self._touch(note)
                self._touch(self.invoices[invoice["InvoiceID"]])
            return {"Allocations": note["Allocations"]}

    def credit_note(self, note_id: str) -> dict[str, Any]:
        with self.lock:
            note = self.credit_notes.get(note_id)
            if note is None:
                raise BooksError("The resource you're looking for cannot be found", status=404)
            return note

    def delete_allocation(self, note_id: str, allocation_id: str) -> dict[str, Any]:
        """Take an allocation back: the credit is the note's again, the invoice owes it."""
        with self.lock:
            note = self.credit_note(note_id)
            found = [a for a in note["Allocations"] if a["AllocationID"] == allocation_id]
            if not found:
                raise BooksError("The resource you're looking for cannot be found", status=404)
            note["Allocations"].remove(found[0])
            note["RemainingCredit"] = float(Decimal(str(note["RemainingCredit"]))
                                            + Decimal(str(found[0]["Amount"])))
            if note["Status"] == "PAID":
                note["Status"] = "AUTHORISED"
            self._touch(note)
            invoice = self.invoices[found[0]["Invoice"]["InvoiceID"]]
            self._touch(invoice)
            self._figures(invoice)
            return {**found[0], "IsDeleted": True}

    def update_credit_note(self, note_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            note = self.credit_note(note_id)
            if body.get("Status") != "VOIDED":
                raise BooksError("The sandbox can only void a credit note")
            if note["Allocations"]:
                raise BooksError("This credit note cannot be voided as it has been allocated; "
                                 "remove its allocations first")
            note["Status"] = "VOIDED"
            return self._touch(note)

    def create_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            invoice = self.invoice(str((body.get("Invoice") or {}).get("InvoiceID")))
            code = (body.get("Account") or {}).get("Code")
            if code not in ACCOUNTS or not ACCOUNTS[code][1]:
                raise BooksError(f"Account '{code}' is not a bank account or does not have "
                                 "payments enabled")
            amount = _round(_dec(body.get("Amount"), "Amount"))
            if invoice["Status"] != "AUTHORISED":
                raise BooksError("Payments can only be made against Authorised documents")
            if amount <= 0 or amount > Decimal(str(invoice["AmountDue"])):
                raise BooksError("Payment amount exceeds the amount outstanding on this "
                                 "document")
            payment: dict[str, Any] = {"PaymentID": str(uuid.uuid4()), "Status": "AUTHORISED",
                       "Amount": float(amount), "Date": body.get("Date"),
                       "Reference": body.get("Reference") or "",
                       "Invoice": {"InvoiceID": invoice["InvoiceID"]},
                       "Account": {"Code": code}, "PaymentType": "ACCRECPAYMENT"}
            self.payments[payment["PaymentID"]] = self._touch(payment)
            self._touch(self.invoices[invoice["InvoiceID"]])
            return payment

    def delete_payment(self, payment_id: str) -> dict[str, Any]:
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None:
                raise BooksError("The resource you're looking for cannot be found", status=404)
            payment["Status"] = "DELETED"
            self._touch(self.invoices[payment["Invoice"]["InvoiceID"]])
            return self._touch(payment)

    def add_history(self, invoice_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if invoice_id not in self.invoices:
                raise BooksError("The resource you're looking for cannot be found", status=404)
            records = []
            for record in body.get("HistoryRecords") or []:
                details = _text(record.get("Details"), "The history note")
                if not details or len(details) > 2500:
                    raise BooksError("A history note needs Details of 2500 characters or less")
                records.append({"Details": details, "DateUTC": ms_json(self._now()),
                                "User": "System Generated", "Changes": "Note"})
            self.history.setdefault(invoice_id, []).extend(records)
            return {"HistoryRecords": records}

    def tax_rates(self) -> list[dict[str, Any]]:
        return [{"TaxType": code, "Name": TAX_NAMES[code], "EffectiveRate": float(rate),
                 "DisplayTaxRate": float(rate), "Status": "ACTIVE", "CanApplyToRevenue": True}
                for code, rate in TAX_RATES.items()]


_WHERE_DATE = re.compile(r"Date\s*(>=|<|>|<=|==)\s*DateTime\((\d+),\s*(\d+),\s*(\d+)\)")
_WHERE_TYPE = re.compile(r'Type\s*==\s*"(\w+)"')


def _matches(invoice: dict[str, Any], where: str) -> bool:
    """The parts of Xero's `where` filter the sandbox understands (dates and type, joined
    by &&); anything else fails loudly rather than being ignored."""
    day = date.fromisoformat(invoice["DateString"][:10])
    for part in (p.strip() for p in where.split("&&")):
        if (found := _WHERE_DATE.fullmatch(part)) is not None:
            bound = date(int(found[2]), int(found[3]), int(found[4]))
            ok = {">=": day >= bound, "<": day < bound, ">": day > bound, "<=": day <= bound,
                  "==": day == bound}[found[1]]
        elif (kind := _WHERE_TYPE.fullmatch(part)) is not None:
            ok = invoice["Type"] == kind[1]
        else:
            raise BooksError(f"The sandbox cannot evaluate the where clause part {part!r}")
        if not ok:
            return False
    return True


def _updated(invoice: dict[str, Any]) -> datetime:
    millis = int(re.findall(r"-?\d+", invoice["UpdatedDateUTC"])[0])
    return datetime.fromtimestamp(millis / 1000, UTC)
