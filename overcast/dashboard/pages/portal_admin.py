"""The operator's portal pages: plans, customer accounts (suspend, resume) and the sign-up switch with
invitation codes. The portal API enforces the admin role; the pages only hide their links from others."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError
from overcast.dashboard.web import Dashboard, Form, SignedIn

PLAN_QUOTAS = (
    ("instances", "Instances"),
    ("cores", "vCPUs"),
    ("ram", "RAM (MiB)"),
    ("volumes", "Volumes"),
    ("gigabytes", "Volume storage (GiB)"),
    ("floating_ips", "Floating IPs"),
)
PLAN_MODES = ("postpaid", "prepaid")
ACCOUNT_STATUSES = ("active", "suspended")


class FormError(Exception):
    """A form field the page itself can tell is wrong, before asking the API."""


def plan_from(form: Form) -> dict[str, Any]:
    """The plan body of the plan form; empty money fields are left out (the portal's defaults hold)."""
    quotas: dict[str, int] = {}
    for key, label in PLAN_QUOTAS:
        value = form.get(f"quota_{key}")
        if value:
            try:
                quotas[key] = int(value)
            except ValueError:
                raise FormError(f"{label} must be a whole number (-1 for unlimited).") from None
    plan: dict[str, Any] = {
        "description": form.get("description"),
        "quotas": quotas,
        "mode": form.get("mode", "postpaid") or "postpaid",
        "default": form.get("default") == "on",
    }
    for key in ("price_list", "credit_limit", "trial_credit", "currency"):
        if form.get(key):
            plan[key] = form.get(key)
    return plan


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/admin")

    async def plans_page(
        request: Request,
        signed: SignedIn,
        status: int = 200,
        error: str = "",
        form: dict[str, Any] | None = None,
    ) -> Response:
        plans = (await signed.api.get("portal", "/plans"))["plans"]
        return dashboard.render(
            request, "portal_admin_plans.html", status=status, plans=plans, error=error,
            quotas=PLAN_QUOTAS, modes=PLAN_MODES, form=form or {},
        )  # fmt: skip

    @pages.get("/plans")
    async def plans(request: Request) -> Response:
        return await plans_page(request, dashboard.signed_in(request))

    @pages.post("/plans")
    async def create_plan(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        filled = {key: form.get(key) for key in form.fields}
        try:
            plan = {"name": form.get("name"), **plan_from(form)}
            await signed.api.post("portal", "/plans", {"plan": plan})
        except FormError as problem:
            return await plans_page(request, signed, 400, str(problem), filled)
        except APIError as refusal:
            return await plans_page(request, signed, refusal.status, refusal.message, filled)
        return dashboard.redirect(request, "/admin/plans")

    @pages.get("/plans/{name}")
    async def plan(request: Request, name: str) -> Response:
        signed = dashboard.signed_in(request)
        shown = (await signed.api.get("portal", f"/plans/{name}"))["plan"]
        return dashboard.render(
            request, "portal_admin_plan.html", plan=shown, quotas=PLAN_QUOTAS, modes=PLAN_MODES, error=""
        )

    @pages.post("/plans/{name}")
    async def update_plan(request: Request, name: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        try:
            await signed.api.patch("portal", f"/plans/{name}", {"plan": plan_from(form)}, "application/json")
        except (FormError, APIError) as problem:
            shown = (await signed.api.get("portal", f"/plans/{name}"))["plan"]
            status = problem.status if isinstance(problem, APIError) else 400
            message = problem.message if isinstance(problem, APIError) else str(problem)
            return dashboard.render(
                request, "portal_admin_plan.html", status=status, plan=shown,
                quotas=PLAN_QUOTAS, modes=PLAN_MODES, error=message,
            )  # fmt: skip
        return dashboard.redirect(request, "/admin/plans")

    @pages.post("/plans/{name}/delete")
    async def delete_plan(request: Request, name: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("portal", f"/plans/{name}")
        return dashboard.redirect(request, "/admin/plans")

    @pages.get("/accounts")
    async def accounts(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        wanted = request.query_params.get("status", "")
        listed = (await signed.api.get("portal", "/accounts", {"status": wanted}))["accounts"]
        return dashboard.render(
            request, "portal_admin_accounts.html", accounts=listed, wanted=wanted, statuses=ACCOUNT_STATUSES
        )

    @pages.post("/accounts/{account_id}/suspend")
    async def suspend(request: Request, account_id: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        reason = form.get("reason") or "Suspended by an operator from the dashboard"
        await signed.api.post("portal", f"/accounts/{account_id}/action", {"suspend": {"reason": reason}})
        return dashboard.redirect(request, "/admin/accounts")

    @pages.post("/accounts/{account_id}/resume")
    async def resume(request: Request, account_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.post("portal", f"/accounts/{account_id}/action", {"resume": None})
        return dashboard.redirect(request, "/admin/accounts")

    async def signup_page(
        request: Request, signed: SignedIn, status: int = 200, codes: list[str] | None = None, error: str = ""
    ) -> Response:
        settings = (await signed.api.get("portal", "/settings"))["signup"]
        plans = (await signed.api.get("portal", "/plans"))["plans"]
        return dashboard.render(
            request, "portal_admin_signup.html", status=status, signup=settings, plans=plans,
            codes=codes or [], error=error,
        )  # fmt: skip

    @pages.get("/signup")
    async def signup(request: Request) -> Response:
        return await signup_page(request, dashboard.signed_in(request))

    @pages.post("/signup")
    async def switch_signup(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        body = {
            "signup": {
                "enabled": form.get("enabled") == "on",
                "invitation_only": form.get("invitation_only") == "on",
            }
        }
        await signed.api.put("portal", "/settings", body)
        return dashboard.redirect(request, "/admin/signup")

    @pages.post("/signup/codes")
    async def make_codes(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        try:
            count = int(form.get("count", "1") or "1")
        except ValueError:
            return await signup_page(
                request, signed, 400, error="The number of codes must be a whole number."
            )
        body: dict[str, Any] = {"count": count}
        if form.get("plan"):
            body["plan"] = form.get("plan")
        try:
            made = await signed.api.post("portal", "/invitation-codes", body)
        except APIError as refusal:
            return await signup_page(request, signed, refusal.status, error=refusal.message)
        codes = [str(code) for code in made["invitation_codes"]]
        return await signup_page(request, signed, 201, codes=codes)

    return pages
