"""The customer's billing pages, all read through /billing/v1 with the user's token: usage this period
(charted per metric and per resource), invoices (list, detail, the PDF), balance with payment history."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError, ProjectAPI
from overcast.dashboard.web import Dashboard, SignedIn

BAR_WIDTH = 360  # the longest bar of a chart, in pixels
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def _decimal(value: object) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


@dataclass(frozen=True)
class Bar:
    label: str
    amount: Decimal
    quantity: Decimal
    unit: str
    width: int  # pixels, relative to the chart's largest amount

    @property
    def quantity_text(self) -> str:
        return f"{self.quantity.normalize():f} {self.unit}".strip()


def chart(lines: Iterable[dict[str, Any]], key: Callable[[dict[str, Any]], str]) -> list[Bar]:
    """The usage lines summed by `key`, largest amount first; a bar's length is its share of the top."""
    amounts: dict[str, Decimal] = {}
    quantities: dict[str, Decimal] = {}
    units: dict[str, str] = {}
    for line in lines:
        label = key(line)
        amounts[label] = amounts.get(label, Decimal(0)) + _decimal(line.get("amount"))
        quantities[label] = quantities.get(label, Decimal(0)) + _decimal(line.get("quantity"))
        # A resource's lines may have several units: its quantity is only meaningful with one.
        unit = str(line.get("unit") or "")
        units[label] = unit if units.get(label, unit) == unit else ""
    top = max(amounts.values(), default=Decimal(0))
    bars = [
        Bar(label, amount, quantities[label], units[label], round(BAR_WIDTH * amount / top) if top > 0 else 0)
        for label, amount in amounts.items()
    ]
    return sorted(bars, key=lambda bar: (-bar.amount, bar.label))


def _by_metric(line: dict[str, Any]) -> str:
    return str(line.get("metric") or line.get("kind") or "other")


def _by_resource(names: Mapping[str, str]) -> Callable[[dict[str, Any]], str]:
    """A line's resource, by name where the project still has it (a deleted one keeps its id)."""

    def label(line: dict[str, Any]) -> str:
        resource = line.get("resource_id")
        if not resource:
            return str(line.get("description") or line.get("kind") or "other")
        return f"{line.get('resource_type') or 'resource'} {names.get(resource, resource)}"

    return label


async def resource_names(api: ProjectAPI) -> dict[str, str]:
    """The project's servers' and volumes' names by id; a service that refuses adds none."""
    listed = await asyncio.gather(
        api.get("compute", "/servers"), api.get("volume", "/volumes"), return_exceptions=True
    )
    names: dict[str, str] = {}
    for body, key in zip(listed, ("servers", "volumes"), strict=True):
        if isinstance(body, APIError):
            continue
        if isinstance(body, BaseException):
            raise body
        names.update({item["id"]: item["name"] for item in body[key] if item.get("name")})
    return names


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/billing")

    @pages.get("/usage")
    async def usage(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        answer, names = await asyncio.gather(signed.api.get("billing", "/usage"), resource_names(signed.api))
        rated = answer["usage"]
        lines = rated["lines"]
        return dashboard.render(
            request, "portal_usage.html", usage=rated, lines=lines, bar_width=BAR_WIDTH,
            by_metric=chart(lines, _by_metric), by_resource=chart(lines, _by_resource(names)),
        )  # fmt: skip

    @pages.get("/invoices")
    async def invoices(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        listed = (await signed.api.get("billing", "/invoices"))["invoices"]
        newest_first = sorted(listed, key=lambda invoice: str(invoice["period_start"]), reverse=True)
        return dashboard.render(request, "portal_invoices.html", invoices=newest_first)

    @pages.get("/invoices/{invoice_id}")
    async def invoice(request: Request, invoice_id: str) -> Response:
        signed = dashboard.signed_in(request)
        shown = (await signed.api.get("billing", f"/invoices/{invoice_id}"))["invoice"]
        return dashboard.render(request, "portal_invoice.html", invoice=shown)

    @pages.get("/invoices/{invoice_id}/pdf")
    async def invoice_pdf(request: Request, invoice_id: str) -> Response:
        signed = dashboard.signed_in(request)
        answer = await signed.api.download("billing", f"/invoices/{invoice_id}/export/pdf")
        found = re.search(r'filename="([^"]+)"', answer.headers.get("Content-Disposition", ""))
        name = found.group(1) if found and _SAFE_FILE_NAME.fullmatch(found.group(1)) else "invoice.pdf"
        headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "private"}
        return Response(answer.content, media_type="application/pdf", headers=headers)

    @pages.get("/balance")
    async def balance(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        position = (await signed.api.get("billing", "/balance"))["balance"]
        payments = (await signed.api.get("billing", "/payments"))["payments"]
        newest_first = sorted(payments, key=lambda payment: str(payment["received_at"]), reverse=True)
        return dashboard.render(request, "portal_balance.html", balance=position, payments=newest_first)

    async def alerts_page(
        request: Request, signed: SignedIn, status: int = 200, notice: str = "", error: str = ""
    ) -> Response:
        budget = (await signed.api.get("billing", "/budget"))["budget"]
        position = (await signed.api.get("billing", "/balance"))["balance"]
        return dashboard.render(
            request, "portal_alerts.html", status=status, budget=budget, balance=position,
            notice=notice, error=error,
        )  # fmt: skip

    @pages.get("/alerts")
    async def alerts(request: Request) -> Response:
        return await alerts_page(request, dashboard.signed_in(request))

    @pages.post("/alerts")
    async def set_alerts(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        try:
            percentages = [
                int(value) for value in re.split(r"[\s,;%]+", form.get("alert_percentages")) if value
            ]
        except ValueError:
            return await alerts_page(
                request, signed, 400, error="Alert percentages are whole numbers, such as 50, 80, 100."
            )
        budget = {
            "amount": form.get("amount") or None,
            "alert_percentages": percentages,
            "email": form.get("email") or None,
        }
        try:
            await signed.api.put("billing", "/budget", {"budget": budget})
        except APIError as refusal:
            return await alerts_page(request, signed, refusal.status, error=refusal.message)
        return await alerts_page(request, signed, notice="Your budget alerts are saved.")

    return pages
