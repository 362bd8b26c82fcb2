"""TicketsAPI: support tickets behind /portal/v1/tickets (#20). It enforces the ticket rules itself
(overcast.portal.tickets_policies), as the other services' API objects do, so the CLI meets them too.

A ticket belongs to a billing account. A customer acts through a project-scoped token whose project is
billed to that account; anyone else who is not support staff finds no such ticket (404). Each reply
e-mails the other side through the portal's outbox: the mail is queued in the reply's transaction and
handed over after the commit, so a relay that is down neither fails the reply nor loses the mail (the
portal service retries it).
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.bus.notify import Notifier
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount, BillingAccountProject, Invoice
from overcast.db.models.compute import Instance
from overcast.db.models.identity import User
from overcast.db.models.portal_tickets import Ticket, TicketAttachment, TicketMessage
from overcast.db.models.volume import Volume
from overcast.db.pagination import paginate
from overcast.digits import decimal
from overcast.mail import Mail
from overcast.portal import tickets_mail
from overcast.portal import tickets_policies as rules
from overcast.portal.outbox import Outbox
from overcast.portal.tickets_notifications import TicketEvents
from overcast.portal.tickets_staff import is_staff_user, support_staff
from overcast.portal.tickets_states import CLOSED, OPEN, STATUSES, Side, after_reply, check_change

LOG = logging.getLogger(__name__)

CATEGORIES = ("technical", "billing", "account", "other")
REFERENCE_TYPES = ("server", "volume", "invoice")
MAX_BODY = 65536  # characters of one message
MAX_ATTACHMENTS = 10  # files on one message
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
UNASSIGNED = "none"  # ?assignee=none: the tickets nobody has taken
# What a download may be served as; anything else is application/octet-stream, so no upload can become
# a page (HTML, SVG with script) in the dashboard's origin.
INLINE_SAFE_TYPES = frozenset(
    {"text/plain", "image/png", "image/jpeg", "image/gif", "application/pdf", "application/json"}
)
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}")
_UNSAFE_IN_FILE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/]')


class TicketSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OVERCAST_PORTAL_TICKETS_", extra="ignore")

    # The largest file one attachment may be (bytes); kept in the database, so small.
    attachment_max_bytes: int = 1_048_576
    # Where a customer's message goes while nobody is assigned; empty: support@ the cloud's host.
    support_address: str = ""


@dataclass(frozen=True)
class Download:
    data: bytes
    content_type: str
    filename: str


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise errors.BadRequest(f"Invalid {what}: a text of 1 to {limit} characters is needed.")
    if len(value) > limit:
        raise errors.BadRequest(f"Invalid {what}: at most {limit} characters.")
    return value


def _known_fields(body: Mapping[str, Any], allowed: set[str], what: str) -> None:
    unknown = set(body) - allowed
    if unknown:
        raise errors.BadRequest(f"Unknown {what} field(s): {', '.join(sorted(unknown))}.")


def _person(user_id: str | None, name: str | None) -> dict[str, str] | None:
    return None if user_id is None else {"user_id": user_id, "name": name or user_id}


def ticket_view(row: Ticket, account_name: str) -> dict[str, Any]:
    reference = {"type": row.reference_type, "id": row.reference_id} if row.reference_type else None
    return {
        "id": row.id,
        "subject": row.subject,
        "category": row.category,
        "status": row.status,
        "account": {"id": row.account_id, "name": account_name},
        "project_id": row.project_id,
        "opener": _person(row.opener_user_id, row.opener_name),
        "assignee": _person(row.assignee_user_id, row.assignee_name),
        "reference": reference,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "last_message_at": row.last_message_at.isoformat(),
        "closed_at": row.closed_at.isoformat() if row.closed_at else None,
    }


def attachment_view(row: TicketAttachment) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "filename": row.filename,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "created_at": row.created_at.isoformat(),
    }


def message_view(row: TicketMessage, attachments: list[TicketAttachment]) -> dict[str, Any]:
    return {
        "id": row.id,
        "author": _person(row.author_user_id, row.author_name),
        "staff": row.staff,
        "internal": row.internal,
        "body": row.body,
        "created_at": row.created_at.isoformat(),
        "attachments": [attachment_view(item) for item in attachments],
    }


def clean_file_name(value: object) -> str:
    """The name a file is stored and offered under: its last path part, without quotes or controls."""
    if not isinstance(value, str):
        raise errors.BadRequest("Name the file: ?filename=...")
    name = _UNSAFE_IN_FILE_NAME.sub("_", value.replace("\\", "/").rpartition("/")[2]).strip()
    if not name or name in (".", "..") or len(name) > 255:
        raise errors.BadRequest("Invalid filename: 1 to 255 characters, not a path.")
    return name


def clean_content_type(value: str | None) -> str:
    media_type = (value or "").split(";")[0].strip().lower()
    return media_type if _CONTENT_TYPE.fullmatch(media_type) else "application/octet-stream"


def _mailbox(address: str | None) -> str | None:
    """An address a mail header may carry: one line with an @ (identity keeps e-mails unchecked)."""
    if not address or "@" not in address or any(character in address for character in "\r\n,"):
        return None
    return address.strip()


def parse_limit(value: str | None) -> int:
    if value is None:
        return DEFAULT_LIMIT
    number = decimal(value)
    if number is None or not 1 <= number <= MAX_LIMIT:
        raise errors.BadRequest(f"Invalid limit {value!r}: a whole number from 1 to {MAX_LIMIT}.")
    return number


def swap_status(
    session: Session,
    ticket: Ticket,
    status: str,
    now: datetime,
    *,
    last_message_at: datetime | None = None,
) -> None:
    """Move the ticket from the status it was read in to `status`, or a 409 if it moved meanwhile."""
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if status != ticket.status:
        values["closed_at"] = now if status == CLOSED else None
    if last_message_at is not None:
        values["last_message_at"] = last_message_at
    swapped = session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == ticket.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if swapped.rowcount != 1:  # type: ignore[attr-defined]
        raise errors.Conflict(f"Ticket {ticket.id} changed meanwhile; reload it and try again.")
    session.refresh(ticket)


def record_reply(
    session: Session, ticket: Ticket, side: Side | None, now: datetime, attempts: int = 3
) -> None:
    """Move the ticket as a reply from `side` does (None: an internal note, which moves nothing).

    A reply is not refused for a status that changed under it (the other side answering or closing at
    the same moment): the move is worked out again from the status the ticket has now."""
    for attempt in range(attempts):
        status = after_reply(ticket.status, side) if side else ticket.status
        try:
            swap_status(session, ticket, status, now, last_message_at=now)
            return
        except errors.Conflict:
            if attempt == attempts - 1:
                raise
            session.refresh(ticket)


class TicketsAPI:
    def __init__(
        self,
        db: Database,
        outbox: Outbox,
        clock: Callable[[], datetime],
        dashboard_url: str,
        settings: TicketSettings | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        """`dashboard_url` is where the mails' links point (the dashboard's root); support's mailbox is
        the settings' address, else support@ the dashboard's host. With a `notifier`, each ticket event
        goes on the bus too (tickets_notifications)."""
        self.db = db
        self.outbox = outbox
        self.clock = clock
        self.dashboard_url = dashboard_url.rstrip("/")
        self.settings = settings or TicketSettings()
        host = urlsplit(self.dashboard_url).hostname or "localhost"
        self.support_address = self.settings.support_address or f"support@{host}"
        self.events = TicketEvents(notifier) if notifier is not None else None

    # -- who is asking --------------------------------------------------------------------------------

    @staticmethod
    def side(ctxt: RequestContext) -> Side:
        return Side.STAFF if policy.authorize(ctxt, rules.TICKET_STAFF) else Side.CUSTOMER

    @staticmethod
    def _account_of(session: Session, project_id: str | None) -> str | None:
        if not project_id:
            return None
        billed = session.get(BillingAccountProject, project_id)
        return billed.account_id if billed else None

    def _visible(self, session: Session, ctxt: RequestContext, ticket_id: str, rule: str) -> Ticket:
        """The ticket if the caller's account holds it (or the caller is staff) and `rule` allows the
        action; a 404 for anyone outside the account, a 403 for a member the rule refuses."""
        ticket = session.get(Ticket, ticket_id)
        staff = self.side(ctxt) is Side.STAFF
        mine = ticket is not None and (
            staff or self._account_of(session, ctxt.project_id) == ticket.account_id
        )
        if ticket is None or not mine:
            raise errors.NotFound(f"Ticket {ticket_id} could not be found.")
        policy.enforce(ctxt, rule, {"project_id": ctxt.project_id})
        return ticket

    # -- reading --------------------------------------------------------------------------------------

    def list_tickets(
        self,
        ctxt: RequestContext,
        *,
        status: str | None = None,
        category: str | None = None,
        assignee: str | None = None,
        account_id: str | None = None,
        limit: str | None = None,
        marker: str | None = None,
    ) -> list[dict[str, Any]]:
        """A page of tickets, newest first: the caller's account's, or, for staff, every account's."""
        policy.enforce(ctxt, rules.TICKET_READ, {"project_id": ctxt.project_id})
        if status is not None and status not in STATUSES:
            raise errors.BadRequest(f"Invalid status {status!r}: one of {', '.join(STATUSES)}.")
        if category is not None and category not in CATEGORIES:
            raise errors.BadRequest(f"Invalid category {category!r}: one of {', '.join(CATEGORIES)}.")
        page_size = parse_limit(limit)
        query = select(Ticket)
        with self.db.reader() as session:
            if self.side(ctxt) is Side.CUSTOMER:
                own = self._account_of(session, ctxt.project_id)
                if own is None or account_id not in (None, own):
                    return []
                query = query.where(Ticket.account_id == own)
            elif account_id is not None:
                query = query.where(Ticket.account_id == account_id)
            if status is not None:
                query = query.where(Ticket.status == status)
            if category is not None:
                query = query.where(Ticket.category == category)
            if assignee == UNASSIGNED:
                query = query.where(Ticket.assignee_user_id.is_(None))
            elif assignee is not None:
                query = query.where(Ticket.assignee_user_id == assignee)
            query = paginate(
                query,
                Ticket,
                sort_keys=[("created_at", "desc")],
                marker=marker,
                limit=page_size,
                marker_column="id",
                session=session,
            )
            tickets = list(session.scalars(query))
            names = self._account_names(session, {ticket.account_id for ticket in tickets})
            return [ticket_view(ticket, names.get(ticket.account_id, "")) for ticket in tickets]

    @staticmethod
    def _account_names(session: Session, account_ids: set[str]) -> dict[str, str]:
        if not account_ids:
            return {}
        rows = session.execute(
            select(BillingAccount.id, BillingAccount.name).where(BillingAccount.id.in_(account_ids))
        )
        return {account_id: name for account_id, name in rows}

    def get(self, ctxt: RequestContext, ticket_id: str) -> dict[str, Any]:
        """The ticket and its conversation; internal notes only for staff."""
        with self.db.reader() as session:
            ticket = self._visible(session, ctxt, ticket_id, rules.TICKET_READ)
            return self._full_view(session, ticket, self.side(ctxt))

    def _full_view(self, session: Session, ticket: Ticket, side: Side) -> dict[str, Any]:
        query = select(TicketMessage).where(TicketMessage.ticket_id == ticket.id)
        if side is Side.CUSTOMER:
            query = query.where(TicketMessage.internal.is_(False))
        messages = list(session.scalars(query.order_by(TicketMessage.position)))
        attachments: dict[str, list[TicketAttachment]] = {}
        for item in session.scalars(
            select(TicketAttachment)
            .where(TicketAttachment.ticket_id == ticket.id)
            .order_by(TicketAttachment.created_at, TicketAttachment.id)
        ):
            attachments.setdefault(item.message_id, []).append(item)
        view = ticket_view(
            ticket, self._account_names(session, {ticket.account_id}).get(ticket.account_id, "")
        )
        view["messages"] = [message_view(row, attachments.get(row.id, [])) for row in messages]
        return view

    # -- writing --------------------------------------------------------------------------------------

    def create(self, ctxt: RequestContext, body: Mapping[str, Any]) -> dict[str, Any]:
        """Open a ticket for the billing account of the caller's project, its body the first message."""
        policy.enforce(ctxt, rules.TICKET_CREATE, {"project_id": ctxt.project_id})
        _known_fields(body, {"subject", "category", "body", "reference"}, "ticket")
        subject = _text(body.get("subject"), "subject", 255)
        category = body.get("category")
        if category not in CATEGORIES:
            raise errors.BadRequest(f"Invalid category {category!r}: one of {', '.join(CATEGORIES)}.")
        text = _text(body.get("body"), "body", MAX_BODY)
        if not ctxt.project_id or not ctxt.user_id:
            raise errors.BadRequest("Open a ticket with a project-scoped token.")

        def work(session: Session) -> tuple[dict[str, Any], list[str], list[tuple[str, dict[str, Any]]]]:
            account_id = self._account_of(session, ctxt.project_id)
            if account_id is None:
                raise errors.BadRequest(
                    f"Project {ctxt.project_id} is not billed to any billing account: tickets belong to one."
                )
            reference = self._reference(session, account_id, body.get("reference"))
            now = self.clock()
            ticket = Ticket(
                id=str(uuid.uuid4()),
                account_id=account_id,
                project_id=ctxt.project_id,
                opener_user_id=ctxt.user_id,
                opener_name=ctxt.user_name or ctxt.user_id,
                subject=subject,
                category=category,
                reference_type=reference[0] if reference else None,
                reference_id=reference[1] if reference else None,
                status=OPEN,
                last_message_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(ticket)
            session.flush()
            message = self._add_message(session, ctxt, ticket, text, staff=False, internal=False, now=now)
            queued = self._queue_mails(session, ticket, message, opened=True)
            events = [TicketEvents.created(ticket)]
            return self._full_view(session, ticket, self.side(ctxt)), queued, events

        view, queued, events = self.db.write(work)
        self._deliver(queued)
        self._announce(ctxt, events)
        return view

    def _reference(self, session: Session, account_id: str, value: object) -> tuple[str, str] | None:
        """A server, volume or invoice the account holds, or a 400 naming what is wrong."""
        if value is None:
            return None
        if not isinstance(value, Mapping) or set(value) != {"type", "id"}:
            raise errors.BadRequest('Invalid reference: {"type": "server"|"volume"|"invoice", "id": ...}.')
        kind, ident = value["type"], value["id"]
        if kind not in REFERENCE_TYPES:
            raise errors.BadRequest(f"Invalid reference type {kind!r}: one of {', '.join(REFERENCE_TYPES)}.")
        if not isinstance(ident, str) or not 0 < len(ident) <= 64:
            raise errors.BadRequest("Invalid reference id: a string of at most 64 characters.")
        projects = select(BillingAccountProject.project_id).where(
            BillingAccountProject.account_id == account_id
        )
        found: object
        if kind == "server":
            found = session.scalar(
                select(Instance.id).where(Instance.uuid == ident, Instance.project_id.in_(projects))
            )
        elif kind == "volume":
            found = session.scalar(
                select(Volume.id).where(Volume.id == ident, Volume.project_id.in_(projects))
            )
        else:
            found = session.scalar(
                select(Invoice.id).where(Invoice.id == ident, Invoice.account_id == account_id)
            )
        if found is None:
            raise errors.BadRequest(f"Your account has no {kind} {ident}.")
        return kind, ident

    def _add_message(
        self,
        session: Session,
        ctxt: RequestContext,
        ticket: Ticket,
        text: str,
        *,
        staff: bool,
        internal: bool,
        now: datetime,
    ) -> TicketMessage:
        # The ticket row's lock makes concurrent replies take turns for the next position (PostgreSQL
        # aborts the later one with a serialization failure, which db.write runs again) instead of both
        # reading the same maximum and one failing on the unique constraint.
        session.execute(select(Ticket.id).where(Ticket.id == ticket.id).with_for_update())
        last = session.scalar(
            select(func.max(TicketMessage.position)).where(TicketMessage.ticket_id == ticket.id)
        )
        message = TicketMessage(
            id=str(uuid.uuid4()),
            ticket_id=ticket.id,
            position=(last or 0) + 1,
            author_user_id=ctxt.user_id or "",
            author_name=ctxt.user_name or ctxt.user_id or "",
            staff=staff,
            internal=internal,
            body=text,
            created_at=now,
        )
        session.add(message)
        session.flush()
        return message

    def reply(self, ctxt: RequestContext, ticket_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Add a message; a reply moves the ticket to the other side and e-mails it, a note does neither."""
        _known_fields(body, {"body", "internal"}, "message")
        text = _text(body.get("body"), "body", MAX_BODY)
        internal = body.get("internal", False)
        if not isinstance(internal, bool):
            raise errors.BadRequest("Invalid internal: true or false.")
        side = self.side(ctxt)
        if internal and side is not Side.STAFF:
            raise errors.Forbidden("Only support staff write internal notes.")

        def work(session: Session) -> tuple[dict[str, Any], list[str], list[tuple[str, dict[str, Any]]]]:
            ticket = self._visible(session, ctxt, ticket_id, rules.TICKET_REPLY)
            now = self.clock()
            message = self._add_message(
                session, ctxt, ticket, text, staff=side is Side.STAFF, internal=internal, now=now
            )
            was = ticket.status
            record_reply(session, ticket, None if internal else side, now)
            queued = [] if internal else self._queue_mails(session, ticket, message, opened=False)
            events = [TicketEvents.replied(ticket, message)]
            if ticket.status != was:
                events.append(TicketEvents.status_changed(ticket, was, ctxt.user_id))
            return message_view(message, []), queued, events

        view, queued, events = self.db.write(work)
        self._deliver(queued)
        self._announce(ctxt, events)
        return view

    def update(self, ctxt: RequestContext, ticket_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Change the status (a customer may only close) and, for staff, the assignee (a user id or null)."""
        _known_fields(body, {"status", "assignee"}, "ticket")
        if not body:
            raise errors.BadRequest("Name what to change: status, assignee.")
        side = self.side(ctxt)
        if "assignee" in body and side is not Side.STAFF:
            raise errors.Forbidden("Only support staff assign tickets.")
        # Staff is worked out from the identity tables before the write, which then only records it.
        assignee: tuple[str | None, str | None] = (None, None)
        if "assignee" in body:
            with self.db.reader() as session:
                assignee = self._assignee(session, body["assignee"])

        def work(session: Session) -> tuple[dict[str, Any], list[str], list[tuple[str, dict[str, Any]]]]:
            ticket = self._visible(session, ctxt, ticket_id, rules.TICKET_UPDATE)
            now = self.clock()
            queued: list[str] = []
            events: list[tuple[str, dict[str, Any]]] = []
            if "assignee" in body:
                ticket.assignee_user_id, ticket.assignee_name = assignee
                ticket.updated_at = now
                session.flush()
            if "status" in body:
                was = ticket.status
                swap_status(session, ticket, check_change(was, body["status"], side), now)
                if side is Side.STAFF and was != CLOSED and ticket.status == CLOSED:
                    # The customer hears that support considers it done, as of a reply.
                    queued = [
                        self.outbox.add(session, mail) for mail in self._closed_mails(session, ticket, ctxt)
                    ]
                if ticket.status != was:
                    events.append(TicketEvents.status_changed(ticket, was, ctxt.user_id))
            view = ticket_view(
                ticket, self._account_names(session, {ticket.account_id}).get(ticket.account_id, "")
            )
            return view, queued, events

        view, queued, events = self.db.write(work)
        self._deliver(queued)
        self._announce(ctxt, events)
        return view

    @staticmethod
    def _assignee(session: Session, value: object) -> tuple[str | None, str | None]:
        if value is None:
            return None, None
        if not isinstance(value, str):
            raise errors.BadRequest("Invalid assignee: a user id, or null to unassign.")
        user = session.get(User, value)
        if user is None or not is_staff_user(session, user.id):
            raise errors.BadRequest(
                f"User {value} is not support staff (an enabled user with the admin or support role)."
            )
        return user.id, user.name

    def staff(self, ctxt: RequestContext) -> list[dict[str, str | None]]:
        """Whom a ticket can be assigned to: the support staff, by name (for staff only)."""
        if self.side(ctxt) is not Side.STAFF:
            raise errors.Forbidden("Only support staff see who the support staff are.")
        with self.db.reader() as session:
            return [member.view() for member in support_staff(session)]

    # -- attachments ----------------------------------------------------------------------------------

    def attach(
        self,
        ctxt: RequestContext,
        ticket_id: str,
        message_id: str,
        filename: object,
        content_type: str | None,
        data: bytes,
    ) -> dict[str, Any]:
        """A file on one of the caller's own messages (at most the size limit: 413 past it)."""
        name = clean_file_name(filename)
        self.check_size(len(data))

        def work(session: Session) -> dict[str, Any]:
            ticket = self._visible(session, ctxt, ticket_id, rules.TICKET_REPLY)
            message = session.get(TicketMessage, message_id)
            if message is None or message.ticket_id != ticket.id:
                raise errors.NotFound(f"Message {message_id} could not be found on this ticket.")
            if message.author_user_id != ctxt.user_id:
                raise errors.Forbidden("Files are attached to one's own messages only.")
            held = session.scalar(
                select(func.count())
                .select_from(TicketAttachment)
                .where(TicketAttachment.message_id == message.id)
            )
            if (held or 0) >= MAX_ATTACHMENTS:
                raise errors.Conflict(f"A message holds at most {MAX_ATTACHMENTS} files.")
            row = TicketAttachment(
                id=str(uuid.uuid4()),
                message_id=message.id,
                ticket_id=ticket.id,
                filename=name,
                content_type=clean_content_type(content_type),
                size=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                data=data,
                created_at=self.clock(),
            )
            session.add(row)
            session.flush()
            return attachment_view(row)

        return self.db.write(work)

    def check_size(self, size: int) -> None:
        limit = self.settings.attachment_max_bytes
        if size > limit:
            raise errors.RequestTooLarge(f"The file is larger than the attachment limit of {limit} bytes.")
        if size == 0:
            raise errors.BadRequest("The file is empty: send its bytes as the request body.")

    def download(self, ctxt: RequestContext, ticket_id: str, message_id: str, attachment_id: str) -> Download:
        with self.db.reader() as session:
            ticket = self._visible(session, ctxt, ticket_id, rules.TICKET_READ)
            row = session.get(TicketAttachment, attachment_id)
            message = session.get(TicketMessage, message_id)
            hidden = message is not None and message.internal and self.side(ctxt) is Side.CUSTOMER
            if (
                row is None
                or message is None
                or hidden
                or (row.ticket_id, row.message_id) != (ticket.id, message.id)
            ):
                raise errors.NotFound(f"Attachment {attachment_id} could not be found.")
            served_as = (
                row.content_type if row.content_type in INLINE_SAFE_TYPES else "application/octet-stream"
            )
            return Download(row.data, served_as, row.filename)

    # -- mail -----------------------------------------------------------------------------------------

    @staticmethod
    def _facts(session: Session, ticket: Ticket) -> tickets_mail.TicketFacts:
        account = session.get(BillingAccount, ticket.account_id)
        reference = f"{ticket.reference_type} {ticket.reference_id}" if ticket.reference_type else None
        return tickets_mail.TicketFacts(
            ticket.id, ticket.subject, ticket.category, account.name if account else "", reference
        )

    @staticmethod
    def _customer_address(session: Session, ticket: Ticket) -> str | None:
        """The opener's address, else the billing account's (None: the customer cannot be mailed)."""
        opener = session.get(User, ticket.opener_user_id)
        account = session.get(BillingAccount, ticket.account_id)
        address = _mailbox(opener.email if opener else None) or _mailbox(account.email if account else None)
        if not address:
            LOG.warning("ticket %s: its opener has no e-mail address; it is not mailed", ticket.id)
        return address

    def _closed_mails(self, session: Session, ticket: Ticket, ctxt: RequestContext) -> list[Mail]:
        address = self._customer_address(session, ticket)
        if not address:
            return []
        link = f"{self.dashboard_url}/support/tickets/{ticket.id}"
        author = ctxt.user_name or ctxt.user_id or "Support"
        return [tickets_mail.closed_to_customer(self._facts(session, ticket), address, author, link)]

    def _mails_for(
        self, session: Session, ticket: Ticket, message: TicketMessage, *, opened: bool
    ) -> list[Mail]:
        """The mail a message sends to the other side: staff's to the opener, a customer's to the
        assignee or, with nobody assigned, to support's address."""
        facts = self._facts(session, ticket)
        if message.staff:
            address = self._customer_address(session, ticket)
            if not address:
                return []
            link = f"{self.dashboard_url}/support/tickets/{ticket.id}"
            return [tickets_mail.to_customer(facts, address, message.author_name, message.body, link, None)]
        assignee = session.get(User, ticket.assignee_user_id) if ticket.assignee_user_id else None
        address = _mailbox(assignee.email if assignee else None) or self.support_address
        link = f"{self.dashboard_url}/admin/tickets/{ticket.id}"
        opener = session.get(User, ticket.opener_user_id)
        mail = tickets_mail.to_support(
            facts,
            address,
            message.author_name,
            message.body,
            link,
            opened=opened,
            reply_to=_mailbox(opener.email if opener else None),
        )
        return [mail]

    def _queue_mails(
        self, session: Session, ticket: Ticket, message: TicketMessage, *, opened: bool
    ) -> list[str]:
        return [
            self.outbox.add(session, mail)
            for mail in self._mails_for(session, ticket, message, opened=opened)
        ]

    def _announce(self, ctxt: RequestContext, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Tell the bus what a committed transaction changed."""
        if self.events is not None:
            self.events.send(ctxt, events)

    def _deliver(self, queued: list[str]) -> None:
        """Hand over what a committed transaction queued; a refused mail stays queued for the retry."""
        for mail_id in queued:
            self.outbox.deliver(mail_id)
