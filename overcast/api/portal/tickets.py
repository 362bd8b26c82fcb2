"""/portal/v1/tickets routes: thin, each reads its request and calls TicketsAPI (overcast.portal.tickets).

Bodies are the fields themselves ({"subject", "category", "body"}); answers wrap one object by its name
({"ticket": {...}}), lists add a `tickets_links` next link when the page is full. An attachment is the raw
request body, named by ?filename= and typed by its Content-Type.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from overcast import errors
from overcast.api.deps import get_context
from overcast.api.json_body import load_json
from overcast.api.middleware import UNBOUNDED_BODY_PATHS
from overcast.context import RequestContext
from overcast.digits import decimal
from overcast.portal.tickets import TicketsAPI, parse_limit
from overcast.portal.tickets_metrics import TicketsCollector

V1 = "/portal/v1"
TICKETS = f"{V1}/tickets"
TICKET = f"{TICKETS}/{{ticket_id}}"
ATTACHMENTS = f"{TICKET}/messages/{{message_id}}/attachments"
SUPPORT_STAFF = f"{V1}/support-staff"
# The upload path, for the API's body limit to leave to the tickets' own (attachment_max_bytes).
ATTACHMENT_UPLOAD_PATH = r"^/portal/v1/tickets/[^/]+/messages/[^/]+/attachments/?$"

router = APIRouter()


def install(app: FastAPI, service: TicketsAPI) -> None:
    """Mount the ticket routes, served by `service` (the portal's install calls this), and the queue's
    metrics on the app's /metrics."""
    app.state.portal_tickets = service
    app.include_router(router)
    app.state.metrics_registry.register(TicketsCollector(service.db, service.clock))
    # An attachment is bounded by the tickets' own limit (a 413 past it), not the API's JSON body limit.
    UNBOUNDED_BODY_PATHS.add(re.compile(ATTACHMENT_UPLOAD_PATH))


def service(request: Request) -> TicketsAPI:
    api: TicketsAPI = request.app.state.portal_tickets
    return api


async def json_object(request: Request) -> Mapping[str, Any]:
    raw = await request.body()
    if not raw:
        raise errors.BadRequest("This operation needs a JSON request body.")
    body = load_json(raw)
    if not isinstance(body, Mapping):
        raise errors.BadRequest("The request body is one JSON object.")
    return body


@router.get(TICKETS)
def list_tickets(
    request: Request,
    status: str | None = None,
    category: str | None = None,
    assignee: str | None = None,
    account_id: str | None = None,
    limit: str | None = None,
    marker: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: TicketsAPI = Depends(service),
) -> dict[str, Any]:
    tickets = api.list_tickets(
        ctxt,
        status=status,
        category=category,
        assignee=assignee,
        account_id=account_id,
        limit=limit,
        marker=marker,
    )
    answer: dict[str, Any] = {"tickets": tickets}
    if tickets and len(tickets) == parse_limit(limit):
        query = {key: value for key, value in request.query_params.items() if key != "marker"}
        query["marker"] = tickets[-1]["id"]
        base = request.app.state.settings.base_url.rstrip("/")
        answer["tickets_links"] = [{"rel": "next", "href": f"{base}{TICKETS}?{urlencode(query)}"}]
    return answer


@router.get(SUPPORT_STAFF)
def list_support_staff(
    ctxt: RequestContext = Depends(get_context), api: TicketsAPI = Depends(service)
) -> dict[str, Any]:
    """Whom a ticket can be assigned to (for support staff)."""
    return {"support_staff": api.staff(ctxt)}


@router.post(TICKETS, status_code=201)
def create_ticket(
    body: Mapping[str, Any] = Depends(json_object),
    ctxt: RequestContext = Depends(get_context),
    api: TicketsAPI = Depends(service),
) -> dict[str, Any]:
    return {"ticket": api.create(ctxt, body)}


@router.get(TICKET)
def show_ticket(
    ticket_id: str, ctxt: RequestContext = Depends(get_context), api: TicketsAPI = Depends(service)
) -> dict[str, Any]:
    return {"ticket": api.get(ctxt, ticket_id)}


@router.patch(TICKET)
def update_ticket(
    ticket_id: str,
    body: Mapping[str, Any] = Depends(json_object),
    ctxt: RequestContext = Depends(get_context),
    api: TicketsAPI = Depends(service),
) -> dict[str, Any]:
    return {"ticket": api.update(ctxt, ticket_id, body)}


@router.post(f"{TICKET}/messages", status_code=201)
def reply(
    ticket_id: str,
    body: Mapping[str, Any] = Depends(json_object),
    ctxt: RequestContext = Depends(get_context),
    api: TicketsAPI = Depends(service),
) -> dict[str, Any]:
    return {"message": api.reply(ctxt, ticket_id, body)}


async def _bounded_body(request: Request, api: TicketsAPI) -> bytes:
    """The body, refused (413) as soon as it is past the attachment limit, declared or streamed."""
    limit = api.settings.attachment_max_bytes
    declared = request.headers.get("content-length")
    declared_size = decimal(declared) if declared is not None else None
    if declared_size is not None and declared_size > limit:
        api.check_size(declared_size)
    pieces: list[bytes] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > limit:
            api.check_size(size)
        pieces.append(piece)
    return b"".join(pieces)


@router.post(ATTACHMENTS, status_code=201)
async def attach(
    ticket_id: str,
    message_id: str,
    request: Request,
    filename: str | None = None,
    ctxt: RequestContext = Depends(get_context),
    api: TicketsAPI = Depends(service),
) -> dict[str, Any]:
    data = await _bounded_body(request, api)
    content_type = request.headers.get("content-type")
    made = await run_in_threadpool(api.attach, ctxt, ticket_id, message_id, filename, content_type, data)
    return {"attachment": made}


def _disposition(filename: str) -> str:
    """An attachment header any client reads: an ASCII name, and the real one in RFC 5987's form."""
    fallback = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


@router.get(f"{ATTACHMENTS}/{{attachment_id}}")
def download(
    ticket_id: str,
    message_id: str,
    attachment_id: str,
    ctxt: RequestContext = Depends(get_context),
    api: TicketsAPI = Depends(service),
) -> Response:
    file = api.download(ctxt, ticket_id, message_id, attachment_id)
    headers = {
        # Always a download, never a page rendered in the cloud's origin.
        "Content-Disposition": _disposition(file.filename),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    return Response(file.data, media_type=file.content_type, headers=headers)
