"""`overcast manage ticket list|show|reply|close|assign`: the support queue from the operator's shell, through
TicketsAPI on this cloud's database with the same checks as /portal/v1/tickets.

The operator acts as a staff user (`--as`, default `admin`), whose name signs replies; replies e-mail the
customer as the dashboard's do (the mail folder or the SMTP relay of OVERCAST_MAIL_*).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from overcast.config import Settings

if TYPE_CHECKING:
    from overcast.db.engine import Database
    from overcast.db.models.identity import User

STATUSES = ("open", "waiting-for-customer", "waiting-for-support", "closed")


def add_commands(manage: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    ticket = manage.add_parser(
        "ticket", help="support tickets: the queue, conversations, replies", parents=[common]
    )
    actions = ticket.add_subparsers(dest="ticket_action", required=True)

    def action(name: str, help: str) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=help, parents=[common])
        sub.set_defaults(handler="tickets")
        sub.add_argument(
            "--as", dest="staff_user", default="admin", help="the staff user acting (default admin)"
        )
        return sub

    listing = action("list", "tickets, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--category")
    listing.add_argument("--assignee", help="a user id, or 'none' for unassigned tickets")
    listing.add_argument("--account", help="a billing account id")
    listing.add_argument("--limit", default="100")
    listing.add_argument("--marker", help="the last ticket id of the previous page")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    show = action("show", "a ticket and its whole conversation, internal notes included")
    show.add_argument("ticket")
    show.add_argument("--format", choices=("text", "json"), default="text")
    reply = action("reply", "answer a ticket (e-mails the customer), or add an internal note")
    reply.add_argument("ticket")
    reply.add_argument("body", help="the reply's text; '-' reads it from standard input")
    reply.add_argument("--internal", action="store_true", help="a note the customer never sees (no e-mail)")
    close = action("close", "close a ticket")
    close.add_argument("ticket")
    staff = action("staff", "the support staff a ticket can be assigned to (admin or support role)")
    staff.add_argument("--format", choices=("text", "json"), default="text")
    assign = action("assign", "give a ticket to one of the support staff, or to nobody")
    assign.add_argument("ticket")
    assign.add_argument(
        "user", help="the name or id of one of the support staff (`overcast manage ticket staff`), or 'none'"
    )


def _conversation(ticket: dict[str, Any]) -> str:
    assignee = ticket["assignee"]["name"] if ticket["assignee"] else "nobody"
    lines = [
        f"{ticket['subject']}  [{ticket['status']}]",
        f"id {ticket['id']} · {ticket['category']} · account {ticket['account']['name']}",
        f"assigned to {assignee}",
    ]
    if ticket["reference"]:
        lines.append(f"about {ticket['reference']['type']} {ticket['reference']['id']}")
    for message in ticket.get("messages", []):
        who = message["author"]["name"] + (" (support)" if message["staff"] else "")
        note = " · INTERNAL NOTE" if message["internal"] else ""
        lines += ["", f"--- {who} · {message['created_at'][:19]}{note}", message["body"]]
        lines += [f"    [file] {item['filename']} ({item['size']} bytes)" for item in message["attachments"]]
    return "\n".join(lines) + "\n"


def _user(db: Database, name_or_id: str) -> User:
    """A user of this cloud's database by id or name."""
    from sqlalchemy import or_, select

    from overcast import errors
    from overcast.db.models.identity import User

    with db.reader() as session:
        user = session.scalars(
            select(User).where(or_(User.id == name_or_id, User.name == name_or_id))
        ).first()
    if user is None:
        raise errors.NotFound(f"User {name_or_id} could not be found.")
    return user


def _staff_member(db: Database, name_or_id: str) -> str:
    """The id of the support staff member named (by name or id); the refusal lists whom to pick."""
    from overcast import errors
    from overcast.portal.tickets_staff import support_staff

    with db.reader() as session:
        staff = support_staff(session)
    for member in staff:
        if name_or_id in (member.user_id, member.name):
            return member.user_id
    names = ", ".join(member.name for member in staff) or "nobody yet"
    raise errors.BadRequest(f"{name_or_id} is not one of the support staff ({names}).")


def run(settings: Settings, args: argparse.Namespace) -> int:
    from overcast import errors
    from overcast.cloud import Cloud
    from overcast.context import RequestContext
    from overcast.mail import MailSettings, mailer_from
    from overcast.portal.outbox import Outbox
    from overcast.portal.settings import PortalSettings
    from overcast.portal.tickets import TicketsAPI
    from overcast.portal.tickets_staff import is_staff_user

    cloud = Cloud.from_settings(settings)
    try:
        user = _user(cloud.db, args.staff_user)
        with cloud.db.reader() as session:
            if not is_staff_user(session, user.id):
                raise errors.Forbidden(
                    f"{user.name} is not support staff (the admin or support role): --as names one."
                )
        ctxt = RequestContext(user_id=user.id, user_name=user.name, roles=("admin",), is_admin=True)
        # The links the mails carry: the portal's dashboard URL, as the API process's mails have them.
        dashboard_url = PortalSettings().dashboard_url or f"{settings.base_url.rstrip('/')}/dashboard"
        outbox = Outbox(cloud.db, mailer_from(settings, MailSettings()), cloud.clock)
        # Events go on the cloud's bus as the API process's do, so a listener hears the shell's changes too.
        api = TicketsAPI(cloud.db, outbox, cloud.clock, dashboard_url, notifier=cloud.notifier("portal-cli"))
        if args.ticket_action == "list":
            tickets = api.list_tickets(
                ctxt, status=args.status, category=args.category, assignee=args.assignee,
                account_id=args.account, limit=args.limit, marker=args.marker,
            )  # fmt: skip
            if args.format == "json":
                print(json.dumps(tickets, indent=2, sort_keys=True))
            for ticket in tickets if args.format == "text" else ():
                assignee = ticket["assignee"]["name"] if ticket["assignee"] else "-"
                columns = (
                    ticket["id"],
                    f"{ticket['status']:<20}",
                    f"{ticket['account']['name']:<20}",
                    assignee,
                )
                print("  ".join((*columns, ticket["subject"])))
        elif args.ticket_action == "show":
            ticket = api.get(ctxt, args.ticket)
            sys.stdout.write(
                json.dumps(ticket, indent=2) + "\n" if args.format == "json" else _conversation(ticket)
            )
        elif args.ticket_action == "staff":
            members = api.staff(ctxt)
            if args.format == "json":
                print(json.dumps(members, indent=2, sort_keys=True))
            for member in members if args.format == "text" else ():
                print("  ".join((str(member["user_id"]), str(member["name"]), member["email"] or "-")))
        elif args.ticket_action == "reply":
            body = sys.stdin.read() if args.body == "-" else args.body
            message = api.reply(ctxt, args.ticket, {"body": body, "internal": args.internal})
            print(json.dumps(message, indent=2, sort_keys=True))
        elif args.ticket_action == "assign":
            assignee = None if args.user == "none" else _staff_member(cloud.db, args.user)
            print(json.dumps(api.update(ctxt, args.ticket, {"assignee": assignee}), indent=2, sort_keys=True))
        else:
            ticket = api.update(ctxt, args.ticket, {"status": "closed"})
            print(json.dumps(ticket, indent=2, sort_keys=True))
        return 0
    finally:
        cloud.close()
