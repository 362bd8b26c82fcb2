"""`overcast manage mail list|show`: the mails the cloud wrote to its mail folder (the default when no
SMTP relay is set), so sign-up links and the other mails can be followed on a laptop with no mail server;
`overcast manage mail outbox`: the portal's mails waiting for a retry."""

from __future__ import annotations

import argparse
import json
import sys
from email.message import EmailMessage

from overcast import errors
from overcast.config import Settings
from overcast.mail import MailFolder, MailSettings, mailer_from


def add_commands(manage: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    mail = manage.add_parser("mail", help="mails in the cloud's mail folder", parents=[common])
    actions = mail.add_subparsers(dest="mail_action", required=True)
    listing = actions.add_parser("list", help="every mail, newest last", parents=[common])
    listing.add_argument("--to", help="only mails to this address")
    listing.add_argument("--format", choices=("text", "json"), default="text")
    show = actions.add_parser("show", help="one mail as it was sent (headers and body)", parents=[common])
    show.add_argument("mail", help="the mail's id (see `list`), or 'last'")
    outbox = actions.add_parser(
        "outbox",
        help="the portal's mails the mailer has not taken yet (retried every minute)",
        parents=[common],
    )
    for action in (listing, show, outbox):
        action.set_defaults(handler="mail")


def _folder(settings: Settings) -> MailFolder:
    mailer = mailer_from(settings, MailSettings())
    if not isinstance(mailer, MailFolder):
        raise errors.BadRequest(
            "Mail goes to an SMTP relay (OVERCAST_MAIL_SMTP_HOST): there is no mail folder."
        )
    return mailer


def _text(message: EmailMessage) -> str:
    headers = "".join(f"{name}: {value}\n" for name, value in message.items())
    body = message.get_body(("plain",))
    content = body.get_content() if isinstance(body, EmailMessage) else ""
    return f"{headers}\n{content}"


def _outbox(settings: Settings) -> int:
    from overcast.cloud import Cloud
    from overcast.portal.outbox import Outbox

    cloud = Cloud.from_settings(settings)
    try:
        pending = Outbox(cloud.db, mailer_from(settings, MailSettings()), cloud.clock).pending()
    finally:
        cloud.close()
    print(json.dumps(pending, indent=2))
    return 0


def run(settings: Settings, args: argparse.Namespace) -> int:
    if args.mail_action == "outbox":
        return _outbox(settings)
    folder = _folder(settings)
    stored = folder.list()
    if args.mail_action == "list":
        if args.to:
            stored = [mail for mail in stored if args.to.lower() in (to.lower() for to in mail.to)]
        if args.format == "json":
            rows = [
                {"id": mail.id, "date": mail.date.isoformat(), "to": list(mail.to), "subject": mail.subject}
                for mail in stored
            ]
            print(json.dumps(rows, indent=2))
        else:
            for mail in stored:
                print(f"{mail.id}  {mail.date:%Y-%m-%d %H:%M:%S}  {', '.join(mail.to)}  {mail.subject}")
        return 0
    mail_id = args.mail
    if mail_id == "last":
        if not stored:
            raise errors.NotFound(f"No mail in {folder.folder}.")
        mail_id = stored[-1].id
    sys.stdout.write(_text(folder.read(mail_id)))
    return 0
