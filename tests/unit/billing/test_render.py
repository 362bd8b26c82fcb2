"""Invoice documents: HTML escapes what a customer typed, CSV has one row per line, PDF is a PDF."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from overcast.billing import render


def invoice() -> dict[str, Any]:
    line = {
        "position": 1, "kind": "usage", "period_start": "2031-01-01T00:00:00+00:00", "project_id": "p1",
        "resource_type": "instance", "resource_id": "s1", "metric": "instance.running",
        "description": 'instance.running <script>alert("x")</script>', "unit": "hour", "quantity": "2",
        "unit_price": "0.10", "amount": "0.20", "start": None, "end": None,
    }  # fmt: skip
    return {
        "id": "i1", "number": "INV-000007", "account_id": "a1", "account_name": "Acme & Sons",
        "period_start": "2031-01-01T00:00:00+00:00", "period_end": "2031-02-01T00:00:00+00:00",
        "currency": "EUR", "status": "issued", "total": "0.20", "issued_at": "2031-02-01T01:00:00+00:00",
        "paid_at": None, "voided_at": None, "lines": [line],
    }  # fmt: skip


def test_html_names_the_invoice_and_escapes_what_users_typed() -> None:
    content, media_type = render.export(invoice(), "html", "month")
    page = content.decode()
    assert media_type.startswith("text/html")
    assert "Invoice INV-000007" in page and "Period: 2031-01" in page and "0.20 EUR" in page
    assert "Acme &amp; Sons" in page
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_csv_has_a_header_and_a_row_per_line() -> None:
    content, _ = render.export(invoice(), "csv", "month")
    rows = list(csv.DictReader(io.StringIO(content.decode())))
    assert [(row["description"], row["quantity"], row["unit_price"], row["amount"]) for row in rows] == [
        ('instance.running <script>alert("x")</script>', "2", "0.10", "0.20")
    ]


def test_json_and_pdf() -> None:
    body, _ = render.export(invoice(), "json", "month")
    assert json.loads(body)["invoice"]["total"] == "0.20"
    document, media_type = render.export(invoice(), "pdf", "month")
    assert media_type == "application/pdf" and document.startswith(b"%PDF-")
