"""An invoice as a document: HTML (Jinja2), PDF (WeasyPrint, from the HTML), CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from jinja2 import Environment, select_autoescape

from overcast.billing import periods, rating
from overcast.billing.money import text

FORMATS = ("html", "pdf", "csv", "json")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}
CSV_COLUMNS = (
    "position", "kind", "period_start", "project_id", "resource_type", "resource_id", "metric", "description",
    "unit", "quantity", "unit_price", "amount", "start", "end",
)  # fmt: skip

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Invoice {{ invoice.number or "(draft)" }}</title>
<style>
body { font-family: sans-serif; font-size: 10pt; margin: 2em; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #ccc; padding: 4px; text-align: left; vertical-align: top; }
td.number, th.number { text-align: right; white-space: nowrap; }
tfoot td { font-weight: bold; border-top: 2px solid #000; }
.status { text-transform: uppercase; color: #666; }
</style></head>
<body>
<h1>Invoice {{ invoice.number or "(draft)" }} <span class="status">{{ invoice.status }}</span></h1>
<p>Billing account: {{ invoice.account_name }} ({{ invoice.account_id }})<br>
Period: {{ period }} ({{ invoice.period_start }} to {{ invoice.period_end }})<br>
{% if invoice.issued_at %}Issued: {{ invoice.issued_at }}<br>{% endif %}
{% if invoice.paid_at %}Paid: {{ invoice.paid_at }}<br>{% endif %}
Currency: {{ invoice.currency }}</p>
<table>
<thead><tr><th>#</th><th>Description</th><th>Resource</th><th class="number">Quantity</th><th>Unit</th>
<th class="number">Unit price</th><th class="number">Amount</th></tr></thead>
<tbody>
{% for line in invoice.lines %}
<tr><td>{{ line.position }}</td><td>{{ line.description }}</td>
<td>{{ line.resource_type }} {{ line.resource_id }}
{% if line.project_id %}<br>project {{ line.project_id }}{% endif %}</td>
<td class="number">{{ line.quantity }}</td><td>{{ line.unit }}</td>
<td class="number">{{ line.unit_price }}</td><td class="number">{{ line.amount }}</td></tr>
{% endfor %}
</tbody>
<tfoot><tr><td colspan="6">Total</td>
<td class="number">{{ invoice.total }} {{ invoice.currency }}</td></tr></tfoot>
</table>
</body></html>
"""
_ENVIRONMENT = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def html(invoice: dict[str, Any], period: str) -> str:
    return _ENVIRONMENT.from_string(_TEMPLATE).render(invoice=invoice, period=period)


def pdf(invoice: dict[str, Any], period: str) -> bytes:
    # Imported here: WeasyPrint loads Pango at import, which only a PDF export needs.
    from weasyprint import HTML

    document: bytes = HTML(string=html(invoice, period)).write_pdf()
    return document


def csv_text(invoice: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for line in invoice.get("lines", []):
        writer.writerow(line)
    return out.getvalue()


def export(invoice: dict[str, Any], document_format: str, period_kind: str) -> tuple[bytes, str]:
    period = periods.label(period_kind, datetime.fromisoformat(invoice["period_start"]))
    if document_format == "html":
        content = html(invoice, period).encode()
    elif document_format == "pdf":
        content = pdf(invoice, period)
    elif document_format == "csv":
        content = csv_text(invoice).encode()
    else:
        content = json.dumps({"invoice": invoice}, indent=2).encode()
    return content, MEDIA_TYPES[document_format]


def rated_line_view(line: rating.Line) -> dict[str, Any]:
    return {
        "kind": line.kind,
        "project_id": line.project_id,
        "resource_type": line.resource_type,
        "resource_id": line.resource_id,
        "metric": line.metric,
        "description": line.description,
        "unit": line.unit,
        "quantity": text(line.quantity.quantize(Decimal("0.000001")).normalize()),
        "unit_price": text(line.unit_price),
        "amount": text(line.amount),
        "start": line.start.isoformat() if line.start else None,
        "end": line.end.isoformat() if line.end else None,
    }
