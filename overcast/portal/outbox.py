"""The portal's mails go through an outbox: a mail is written in the same transaction as what it tells of
(a sign-up, a reset, an invitation), handed to the mailer after the commit, and kept for a retry if the
mailer could not take it; `deliver_due` (the portal service's periodic task, and every new mail) sends
what is due. So a relay that is down neither fails the user's request nor loses the mail."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast.db.engine import Database
from overcast.db.models.portal import PortalOutboxMail
from overcast.mail import Mail, Mailer, MailError
from overcast.portal import tokens

LOG = logging.getLogger(__name__)


def _stored(mail: Mail) -> dict[str, object]:
    return {
        "to": list(mail.to), "subject": mail.subject, "body": mail.body,
        "reply_to": mail.reply_to, "headers": dict(mail.headers),
    }  # fmt: skip


def _mail(stored: dict[str, object]) -> Mail:
    to, headers = stored["to"], stored.get("headers") or {}
    assert isinstance(to, list) and isinstance(headers, dict)
    reply_to = stored.get("reply_to")
    return Mail(
        to=tuple(str(address) for address in to),
        subject=str(stored["subject"]),
        body=str(stored["body"]),
        reply_to=str(reply_to) if reply_to else None,
        headers={str(name): str(value) for name, value in headers.items()},
    )


class Outbox:
    def __init__(
        self,
        db: Database,
        mailer: Mailer,
        clock: Callable[[], datetime],
        *,
        max_attempts: int = 10,
        retry_seconds: int = 60,
    ) -> None:
        self.db = db
        self.mailer = mailer
        self.clock = clock
        self.max_attempts = max_attempts
        self.retry_seconds = retry_seconds

    def add(self, session: Session, mail: Mail) -> str:
        """Queue the mail in the caller's transaction; send it with `deliver(id)` after the commit."""
        row = PortalOutboxMail(id=str(uuid.uuid4()), mail=_stored(mail), next_attempt_at=self.clock())
        session.add(row)
        return row.id

    def deliver(self, mail_id: str) -> bool:
        """Hand one queued mail over now; False if the mailer refused it (kept for a retry)."""
        now = self.clock()
        with self.db.reader() as session:
            row = session.get(PortalOutboxMail, mail_id)
            if row is None or row.sent_at is not None:
                return row is not None
            stored, attempts = dict(row.mail), row.attempts
        # Claim the attempt first: of two processes delivering the same mail, one sends it.
        claimed = self.db.write(
            lambda session: tokens.rows_changed(
                session,
                update(PortalOutboxMail)
                .where(
                    PortalOutboxMail.id == mail_id,
                    PortalOutboxMail.attempts == attempts,
                    PortalOutboxMail.sent_at.is_(None),
                )
                .values(
                    attempts=attempts + 1,
                    next_attempt_at=now + timedelta(seconds=self.retry_seconds * (attempts + 1)),
                ),
            )
        )
        if not claimed:
            return False
        try:
            self.mailer.send(_mail(stored))
        except MailError as exc:
            error = exc.message[:2000]
            LOG.warning(
                "Mail %s not handed over (attempt %d), kept for a retry: %s", mail_id, attempts + 1, exc
            )
            self.db.write(
                lambda session: session.execute(
                    update(PortalOutboxMail).where(PortalOutboxMail.id == mail_id).values(last_error=error)
                )
            )
            return False
        self.db.write(
            lambda session: session.execute(
                update(PortalOutboxMail).where(PortalOutboxMail.id == mail_id).values(sent_at=self.clock())
            )
        )
        return True

    def deliver_due(self) -> int:
        """Send every queued mail whose retry time has come; the number sent."""
        with self.db.reader() as session:
            due = list(
                session.scalars(
                    select(PortalOutboxMail.id)
                    .where(
                        PortalOutboxMail.sent_at.is_(None),
                        PortalOutboxMail.next_attempt_at <= self.clock(),
                        PortalOutboxMail.attempts < self.max_attempts,
                    )
                    .order_by(PortalOutboxMail.next_attempt_at)
                    .limit(100)
                )
            )
        return sum(self.deliver(mail_id) for mail_id in due)

    def pending(self) -> list[dict[str, object]]:
        """Mails not handed over yet (for operators)."""
        with self.db.reader() as session:
            rows = session.scalars(
                select(PortalOutboxMail)
                .where(PortalOutboxMail.sent_at.is_(None))
                .order_by(PortalOutboxMail.created_at)
            )
            return [
                {"id": row.id, "to": row.mail["to"], "subject": row.mail["subject"], "attempts": row.attempts,
                 "last_error": row.last_error, "next_attempt_at": row.next_attempt_at.isoformat()}
                for row in rows
            ]  # fmt: skip
