"""Support tickets, all through /portal/v1/tickets with the user's token: a customer's list, new ticket and
conversation (reply, attach a file, close); the operators' queue under /admin/tickets (filters, assign,
reply, internal notes, status). The portal API decides who sees what; the pages only choose the view.

A reply form may carry a file, so it posts multipart/form-data, read here with the standard library's
MIME parser (the body is bounded first: a file over the portal's limit is refused by the API anyway).
"""

from __future__ import annotations

import asyncio
import email.policy
import re
from dataclasses import dataclass
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.api.middleware import UNBOUNDED_BODY_PATHS
from overcast.dashboard.client import APIError, checked
from overcast.dashboard.web import CSRF_FIELD, CSRF_HEADER, CSRFRefused, Dashboard, SignedIn

STATUSES = ("open", "waiting-for-customer", "waiting-for-support", "closed")
CATEGORIES = ("technical", "billing", "account", "other")
STAFF_ROLES = ("admin", "support")
PAGE_SIZE = 50
# A reply form's whole body (text and one file); the portal's own limit on the file is the one users meet.
MAX_FORM_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Upload:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class PostedForm:
    fields: dict[str, str]
    upload: Upload | None

    def get(self, name: str) -> str:
        return self.fields.get(name, "").strip()


async def _listed(signed: SignedIn, service: str, path: str, key: str) -> list[dict[str, Any]]:
    """A list the picker offers, or nothing when the project has no such service (or may not list it)."""
    try:
        found: list[dict[str, Any]] = (await signed.api.get(service, path))[key]
    except APIError:
        return []
    return found


async def reference_choices(signed: SignedIn) -> list[tuple[str, str]]:
    """What a ticket may be about: the project's servers and volumes, the account's invoices, as
    ("type:id", label) pairs."""
    servers, volumes, invoices = await asyncio.gather(
        _listed(signed, "compute", "/servers", "servers"),
        _listed(signed, "volume", "/volumes", "volumes"),
        _listed(signed, "billing", "/invoices", "invoices"),
    )
    return [
        *((f"server:{item['id']}", f"Server {item.get('name') or item['id']}") for item in servers),
        *((f"volume:{item['id']}", f"Volume {item.get('name') or item['id']}") for item in volumes),
        *(
            (
                f"invoice:{item['id']}",
                f"Invoice {item.get('number') or 'draft'} ({str(item['period_start'])[:10]})",
            )
            for item in invoices
        ),
    ]


def is_staff(signed: SignedIn) -> bool:
    return any(role in signed.session.login.roles for role in STAFF_ROLES)


async def _bounded(request: Request) -> bytes:
    pieces: list[bytes] = []
    size = 0
    async for piece in request.stream():
        size += len(piece)
        if size > MAX_FORM_BYTES:
            raise APIError(413, f"The form is larger than {MAX_FORM_BYTES // (1024 * 1024)} MiB.")
        pieces.append(piece)
    return b"".join(pieces)


def parse_multipart(content_type: str, body: bytes) -> PostedForm:
    """The text fields and the first non-empty file of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    fields: dict[str, str] = {}
    upload: Upload | None = None
    if not message.is_multipart():
        return PostedForm(fields, None)
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            if data and upload is None:
                upload = Upload(filename, part.get_content_type(), data)
        elif isinstance(name, str):
            fields[name] = data.decode("utf-8", "replace").replace("\r\n", "\n")
    return PostedForm(fields, upload)


async def posted_form(request: Request, signed: SignedIn) -> PostedForm:
    """The form (url-encoded or multipart), once its CSRF token matched the session's."""
    body = await _bounded(request)
    content_type = request.headers.get("content-type", "")
    if content_type.lower().startswith("multipart/form-data"):
        form = parse_multipart(content_type, body)
    else:
        pairs = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        form = PostedForm({key: values[0] for key, values in pairs.items()}, None)
    if not signed.session.csrf_matches(request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD) or None):
        raise CSRFRefused()
    return form


async def _attach(signed: SignedIn, ticket_id: str, message_id: str, upload: Upload) -> None:
    api = signed.api
    path = (
        f"/tickets/{ticket_id}/messages/{message_id}/attachments?filename={quote(upload.filename, safe='')}"
    )
    headers = {
        "X-Auth-Token": api.login.token,
        "Accept": "application/json",
        "Content-Type": upload.content_type,
    }
    checked(await api.http.post(api.url("portal", path), content=upload.data, headers=headers))


async def _download(signed: SignedIn, ticket_id: str, message_id: str, attachment_id: str) -> Response:
    path = f"/tickets/{ticket_id}/messages/{message_id}/attachments/{attachment_id}"
    answer = await signed.api.download("portal", path)
    headers = {
        "Content-Disposition": answer.headers.get("Content-Disposition", 'attachment; filename="attachment"'),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-store",
    }
    media_type = answer.headers.get("Content-Type", "application/octet-stream")
    return Response(answer.content, media_type=media_type, headers=headers)


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter()
    # A reply's file streams through the dashboard: its own bound (MAX_FORM_BYTES) stands for the API's.
    for pattern in (
        r"/support/tickets/new/?$",
        r"/support/tickets/[^/]+/reply/?$",
        r"/admin/tickets/[^/]+/reply/?$",
    ):
        UNBOUNDED_BODY_PATHS.add(re.compile(f"^{re.escape(dashboard.prefix)}{pattern}"))

    async def reply_with_file(
        signed: SignedIn, ticket_id: str, form: PostedForm, *, internal: bool = False
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"body": form.get("body")}
        if internal:
            body["internal"] = True
        message: dict[str, Any] = (await signed.api.post("portal", f"/tickets/{ticket_id}/messages", body))[
            "message"
        ]
        if form.upload is not None:
            await _attach(signed, ticket_id, message["id"], form.upload)
        return message

    # -- the customer's pages ------------------------------------------------------------------------

    @pages.get("/support/tickets")
    async def ticket_list(request: Request, status: str = "", marker: str = "") -> Response:
        signed = dashboard.signed_in(request)
        query = {"status": status, "marker": marker, "limit": PAGE_SIZE}
        tickets = (await signed.api.get("portal", "/tickets", query))["tickets"]
        return dashboard.render(
            request, "support_tickets.html", tickets=tickets, statuses=STATUSES, wanted=status,
            next_marker=tickets[-1]["id"] if len(tickets) == PAGE_SIZE else "",
        )  # fmt: skip

    async def new_form(
        request: Request, signed: SignedIn, status: int = 200, error: str = "", **values: str
    ) -> Response:
        choices = await reference_choices(signed)
        wanted = values.get("reference", "")
        if wanted and wanted not in {value for value, _ in choices}:
            choices.append((wanted, wanted.replace(":", " ", 1)))
        return dashboard.render(
            request, "support_new.html", status=status, error=error, values=values,
            categories=CATEGORIES, references=choices,
        )  # fmt: skip

    @pages.get("/support/tickets/new")
    async def new_ticket(request: Request, reference: str = "") -> Response:
        """`?reference=server:<id>` (a link from the thing in question) chooses what the ticket is about."""
        signed = dashboard.signed_in(request)
        return await new_form(request, signed, reference=reference)

    @pages.post("/support/tickets/new")
    async def create_ticket(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await posted_form(request, signed)
        body: dict[str, Any] = {
            "subject": form.get("subject"),
            "category": form.get("category"),
            "body": form.get("body"),
        }
        kind, _, ident = form.get("reference").partition(":")
        if kind and ident:
            body["reference"] = {"type": kind, "id": ident}
        try:
            ticket = (await signed.api.post("portal", "/tickets", body))["ticket"]
        except APIError as refusal:
            if refusal.status == 401:
                raise
            values = {key: form.get(key) for key in ("subject", "category", "body", "reference")}
            return await new_form(request, signed, refusal.status, refusal.message, **values)
        if form.upload is not None:
            try:
                await _attach(signed, ticket["id"], ticket["messages"][0]["id"], form.upload)
            except APIError as refusal:
                return await show(request, signed, ticket["id"], staff_view=False, error=refusal.message)
        return dashboard.redirect(request, f"/support/tickets/{ticket['id']}")

    async def show(
        request: Request,
        signed: SignedIn,
        ticket_id: str,
        *,
        staff_view: bool,
        error: str = "",
        status: int = 200,
    ) -> Response:
        ticket = (await signed.api.get("portal", f"/tickets/{ticket_id}"))["ticket"]
        # The assignee picker's choices: the support staff as the portal works them out (roles through
        # groups and implied roles count), not whatever id an operator types.
        staff = await _listed(signed, "portal", "/support-staff", "support_staff") if staff_view else []
        return dashboard.render(
            request, "support_ticket.html", status=status, ticket=ticket, staff_view=staff_view, error=error,
            statuses=STATUSES, base=("/admin/tickets/" if staff_view else "/support/tickets/") + ticket_id,
            support_staff=staff,
        )  # fmt: skip

    @pages.get("/support/tickets/{ticket_id}")
    async def ticket_page(request: Request, ticket_id: str) -> Response:
        signed = dashboard.signed_in(request)
        return await show(request, signed, ticket_id, staff_view=False)

    async def reply_and_return(
        request: Request, signed: SignedIn, ticket_id: str, *, staff_view: bool
    ) -> Response:
        """Posts the reply (staff may mark it internal) and returns to the ticket, or shows it with the
        API's refusal; a 401 or 404 goes to the app's own handlers."""
        form = await posted_form(request, signed)
        internal = staff_view and form.get("internal") == "on"
        try:
            await reply_with_file(signed, ticket_id, form, internal=internal)
        except APIError as refusal:
            if refusal.status in (401, 404):
                raise
            return await show(
                request, signed, ticket_id,
                staff_view=staff_view, error=refusal.message, status=refusal.status,
            )  # fmt: skip
        root = "/admin/tickets" if staff_view else "/support/tickets"
        return dashboard.redirect(request, f"{root}/{ticket_id}")

    @pages.post("/support/tickets/{ticket_id}/reply")
    async def customer_reply(request: Request, ticket_id: str) -> Response:
        return await reply_and_return(request, dashboard.signed_in(request), ticket_id, staff_view=False)

    @pages.post("/support/tickets/{ticket_id}/close")
    async def close(request: Request, ticket_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await posted_form(request, signed)
        await signed.api.patch("portal", f"/tickets/{ticket_id}", {"status": "closed"}, "application/json")
        return dashboard.redirect(request, f"/support/tickets/{ticket_id}")

    @pages.get("/support/tickets/{ticket_id}/messages/{message_id}/attachments/{attachment_id}")
    async def customer_download(
        request: Request, ticket_id: str, message_id: str, attachment_id: str
    ) -> Response:
        signed = dashboard.signed_in(request)
        return await _download(signed, ticket_id, message_id, attachment_id)

    # -- the operators' queue ------------------------------------------------------------------------

    def staff_only(request: Request) -> SignedIn:
        signed = dashboard.signed_in(request)
        if not is_staff(signed):
            raise APIError(403, "The ticket queue is for support staff (the admin or support role).")
        return signed

    @pages.get("/admin/tickets")
    async def queue(
        request: Request, status: str = "", category: str = "", assignee: str = "", account_id: str = "",
        marker: str = "",
    ) -> Response:  # fmt: skip
        signed = staff_only(request)
        wanted = {"status": status, "category": category, "assignee": assignee, "account_id": account_id}
        if assignee == "me":
            wanted["assignee"] = signed.session.login.user_id
        page, staff = await asyncio.gather(
            signed.api.get("portal", "/tickets", {**wanted, "marker": marker, "limit": PAGE_SIZE}),
            _listed(signed, "portal", "/support-staff", "support_staff"),
        )
        tickets = page["tickets"]
        return dashboard.render(
            request, "support_queue.html", tickets=tickets, statuses=STATUSES, categories=CATEGORIES,
            wanted={"status": status, "category": category, "assignee": assignee, "account_id": account_id},
            next_marker=tickets[-1]["id"] if len(tickets) == PAGE_SIZE else "", support_staff=staff,
        )  # fmt: skip

    @pages.get("/admin/tickets/{ticket_id}")
    async def staff_ticket(request: Request, ticket_id: str) -> Response:
        signed = staff_only(request)
        return await show(request, signed, ticket_id, staff_view=True)

    @pages.post("/admin/tickets/{ticket_id}/reply")
    async def staff_reply(request: Request, ticket_id: str) -> Response:
        return await reply_and_return(request, staff_only(request), ticket_id, staff_view=True)

    @pages.post("/admin/tickets/{ticket_id}/update")
    async def staff_update(request: Request, ticket_id: str) -> Response:
        """Assign (to oneself, to one of the support staff, or nobody) and set the status, from one form."""
        signed = staff_only(request)
        form = await posted_form(request, signed)
        change: dict[str, Any] = {}
        assignee = form.get("assignee")
        if assignee == "me":
            change["assignee"] = signed.session.login.user_id
        elif assignee == "none":
            change["assignee"] = None
        elif assignee:
            change["assignee"] = assignee
        if form.get("status"):
            change["status"] = form.get("status")
        if change:
            try:
                await signed.api.patch("portal", f"/tickets/{ticket_id}", change, "application/json")
            except APIError as refusal:
                if refusal.status in (401, 404):
                    raise
                return await show(
                    request, signed, ticket_id, staff_view=True, error=refusal.message, status=refusal.status
                )
        return dashboard.redirect(request, f"/admin/tickets/{ticket_id}")

    @pages.get("/admin/tickets/{ticket_id}/messages/{message_id}/attachments/{attachment_id}")
    async def staff_download(
        request: Request, ticket_id: str, message_id: str, attachment_id: str
    ) -> Response:
        signed = staff_only(request)
        return await _download(signed, ticket_id, message_id, attachment_id)

    return pages
