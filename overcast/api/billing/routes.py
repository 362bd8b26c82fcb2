"""/billing/v1 routes: thin, each reads its request and calls BillingAPI (overcast.billing.api)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from overcast.api.deps import get_context
from overcast.api.json_body import load_json
from overcast.billing import balances
from overcast.billing.api import BillingAPI
from overcast.context import RequestContext
from overcast.errors import BadRequest

ROOT = "/billing"
V1 = f"{ROOT}/v1"
WEBHOOK = "/payments/webhook"

router = APIRouter()


def service(request: Request) -> BillingAPI:
    api: BillingAPI = request.app.state.billing
    return api


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise BadRequest("This operation needs a JSON request body.")
    return load_json(raw)


def wrapped(body: Any, key: str) -> Mapping[str, Any]:
    """The object under `key` of a request body ({"account": {...}}), or a 400 saying so."""
    if not isinstance(body, Mapping) or set(body) != {key} or not isinstance(body[key], Mapping):
        raise BadRequest(f"The request body is one object under {key!r}: {{{key!r}: {{...}}}}.")
    return body[key]


def _version(request: Request) -> dict[str, Any]:
    base = request.app.state.settings.base_url.rstrip("/")
    return {
        "id": "v1",
        "status": "CURRENT",
        "links": [
            {"rel": "self", "href": f"{base}{V1}"},
            {"rel": "describedby", "href": f"{base}{V1}/openapi.json"},
        ],
    }


@router.get(ROOT)
def versions(request: Request) -> dict[str, Any]:
    return {"versions": [_version(request)]}


@router.get(V1)
def version(request: Request) -> dict[str, Any]:
    return {"version": _version(request)}


# -- price lists and prices ------------------------------------------------------------------------


@router.get(f"{V1}/price-lists")
def list_price_lists(
    name: str | None = None, ctxt: RequestContext = Depends(get_context), api: BillingAPI = Depends(service)
) -> dict[str, Any]:
    return {"price_lists": api.list_price_lists(ctxt, name)}


@router.post(f"{V1}/price-lists", status_code=201)
def create_price_list(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"price_list": api.create_price_list(ctxt, wrapped(body, "price_list"))}


@router.get(f"{V1}/price-lists/{{price_list_id}}")
def show_price_list(
    price_list_id: str, ctxt: RequestContext = Depends(get_context), api: BillingAPI = Depends(service)
) -> dict[str, Any]:
    return {"price_list": api.get_price_list(ctxt, price_list_id)}


@router.get(f"{V1}/prices")
def show_prices(
    project_id: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"prices": api.prices_of(ctxt, project_id)}


# -- usage and balances ----------------------------------------------------------------------------


@router.get(f"{V1}/usage")
def show_usage(
    project_id: str | None = None,
    start: str | None = None,
    end: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"usage": api.usage_of(ctxt, project_id, start, end)}


@router.get(f"{V1}/balance")
def show_balance(
    project_id: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"balance": api.balance_of(ctxt, project_id)}


@router.get(f"{V1}/budget")
def show_budget(
    project_id: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"budget": api.budget_of(ctxt, project_id)}


@router.put(f"{V1}/budget")
def set_budget(
    project_id: str | None = None,
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"budget": api.set_budget(ctxt, project_id, wrapped(body, "budget"))}


# -- accounts --------------------------------------------------------------------------------------


@router.get(f"{V1}/accounts")
def list_accounts(
    ctxt: RequestContext = Depends(get_context), api: BillingAPI = Depends(service)
) -> dict[str, Any]:
    return {"accounts": api.list_accounts(ctxt)}


@router.post(f"{V1}/accounts", status_code=201)
def create_account(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"account": api.create_account(ctxt, wrapped(body, "account"))}


@router.get(f"{V1}/accounts/{{account_id}}")
def show_account(
    account_id: str, ctxt: RequestContext = Depends(get_context), api: BillingAPI = Depends(service)
) -> dict[str, Any]:
    return {"account": api.get_account(ctxt, account_id)}


@router.patch(f"{V1}/accounts/{{account_id}}")
def update_account(
    account_id: str,
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"account": api.update_account(ctxt, account_id, wrapped(body, "account"))}


@router.delete(f"{V1}/accounts/{{account_id}}", status_code=204)
def delete_account(
    account_id: str, ctxt: RequestContext = Depends(get_context), api: BillingAPI = Depends(service)
) -> Response:
    api.delete_account(ctxt, account_id)
    return Response(status_code=204)


@router.get(f"{V1}/accounts/{{account_id}}/balance")
def show_account_balance(
    account_id: str, ctxt: RequestContext = Depends(get_context), api: BillingAPI = Depends(service)
) -> dict[str, Any]:
    return {"balance": api.account_balance(ctxt, account_id)}


@router.put(f"{V1}/accounts/{{account_id}}/projects/{{project_id}}")
async def add_project(
    account_id: str,
    project_id: str,
    request: Request,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    raw = await request.body()
    body = wrapped(load_json(raw), "project") if raw else {}
    account = await run_in_threadpool(api.set_project, ctxt, account_id, project_id, body)
    return {"account": account}


@router.delete(f"{V1}/accounts/{{account_id}}/projects/{{project_id}}", status_code=204)
def remove_project(
    account_id: str,
    project_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> Response:
    api.remove_project(ctxt, account_id, project_id)
    return Response(status_code=204)


# -- invoices --------------------------------------------------------------------------------------


@router.get(f"{V1}/invoices")
def list_invoices(
    account_id: str | None = None,
    status: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"invoices": api.list_invoices(ctxt, account_id, status)}


@router.post(f"{V1}/invoices")
def generate_invoices(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"invoices": api.generate_invoices(ctxt, wrapped(body, "invoices"))}


@router.get(f"{V1}/invoices/{{invoice_id}}")
def show_invoice(
    invoice_id: str, ctxt: RequestContext = Depends(get_context), api: BillingAPI = Depends(service)
) -> dict[str, Any]:
    return {"invoice": api.get_invoice(ctxt, invoice_id)}


@router.get(f"{V1}/invoices/{{invoice_id}}/export/{{document_format}}")
def export_invoice(
    invoice_id: str,
    document_format: str,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> Response:
    content, media_type, name = api.export_invoice(ctxt, invoice_id, document_format)
    return Response(
        content, media_type=media_type, headers={"Content-Disposition": f'inline; filename="{name}"'}
    )


@router.post(f"{V1}/invoices/{{invoice_id}}/action")
def invoice_action(
    invoice_id: str,
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"invoice": api.invoice_action(ctxt, invoice_id, body)}


# -- payments --------------------------------------------------------------------------------------


@router.get(f"{V1}/payments")
def list_payments(
    account_id: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> dict[str, Any]:
    return {"payments": api.list_payments(ctxt, account_id)}


@router.post(f"{V1}/payments", status_code=201)
def record_payment(
    body: Any = Depends(json_body),
    ctxt: RequestContext = Depends(get_context),
    api: BillingAPI = Depends(service),
) -> Response:
    payment, new = api.record_payment(ctxt, wrapped(body, "payment"))
    return JSONResponse({"payment": payment}, status_code=201 if new else 200)


@router.post(V1 + WEBHOOK)
async def payment_webhook(request: Request, api: BillingAPI = Depends(service)) -> Response:
    """A payment provider's notification, signed with the shared secret (X-Billing-Signature)."""
    raw = await request.body()
    signature = request.headers.get(balances.SIGNATURE_HEADER)
    payment, new = await run_in_threadpool(api.webhook, signature, raw)
    return JSONResponse({"payment": payment}, status_code=201 if new else 200)
