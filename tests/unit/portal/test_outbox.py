"""The portal's outbox on a real database: a mail queued in a transaction is handed over after it, a
refused one is kept and retried when its time comes (never sent twice), and the portal service's
periodic work sends what is due and forgets expired sign-ups' passwords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.db import Database
from overcast.db.models.portal import PortalSignup
from overcast.mail import Mail, Mailer, MailError, MailFolder
from overcast.portal.manager import PortalManager
from overcast.portal.outbox import Outbox
from overcast.portal.settings import PortalSettings
from tests.support.clock import FakeClock

T0 = datetime(2031, 1, 1, tzinfo=UTC)


class RelayDown(Mailer):
    """Refuses mail while `down`, then writes to a folder."""

    def __init__(self, folder: MailFolder) -> None:
        self.folder, self.down = folder, True

    def send(self, mail: Mail) -> str:
        if self.down:
            raise MailError("relay down")
        return self.folder.send(mail)


def test_a_refused_mail_is_kept_and_retried_once_due(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    folder = MailFolder(tmp_path / "mail")
    relay = RelayDown(folder)
    outbox = Outbox(db, relay, clock, max_attempts=3, retry_seconds=60)
    mail = Mail(to=("ada@example.com",), subject="Welcome", body="hi\n", headers={"X-Ref": "1"})
    mail_id = db.write(lambda session: outbox.add(session, mail))
    assert outbox.deliver(mail_id) is False
    (pending,) = outbox.pending()
    assert (pending["attempts"], pending["last_error"]) == (1, "relay down")
    relay.down = False
    assert outbox.deliver_due() == 0  # not due before its retry time
    clock.now = T0 + timedelta(seconds=60)
    assert outbox.deliver_due() == 1
    assert outbox.pending() == [] and outbox.deliver_due() == 0
    (sent,) = folder.list()
    assert (sent.to, sent.subject, folder.read(sent.id)["X-Ref"]) == (("ada@example.com",), "Welcome", "1")
    assert outbox.deliver(mail_id) is True and len(folder.list()) == 1  # sent once


def test_a_mail_is_given_up_after_its_attempts(db: Database, tmp_path: Path) -> None:
    clock = FakeClock(T0)
    outbox = Outbox(db, RelayDown(MailFolder(tmp_path)), clock, max_attempts=2, retry_seconds=1)
    db.write(lambda session: outbox.add(session, Mail(to=("a@b.example",), subject="s", body="b")))
    for second in range(1, 10):
        clock.now = T0 + timedelta(seconds=10 * second)
        outbox.deliver_due()
    assert [row["attempts"] for row in outbox.pending()] == [2]


def test_the_portal_service_sends_due_mail_and_expires_sign_ups(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", transport_url="inproc://portal-manager-test")
    cloud = Cloud.from_settings(settings)
    try:
        clock = FakeClock(T0)
        cloud.clock = clock
        folder = MailFolder(tmp_path / "mail")
        manager = PortalManager(
            cloud, "portal-1", settings=PortalSettings(signup_token_ttl=3600), mailer=folder
        )
        queued = Outbox(cloud.db, RelayDown(folder), clock)
        queued.deliver(
            cloud.db.write(lambda s: queued.add(s, Mail(to=("a@b.example",), subject="s", body="b")))
        )
        cloud.db.write(
            lambda session: session.add(
                PortalSignup(
                    id="s1",
                    email="a@b.example",
                    name="A",
                    password_hash="h",
                    plan="p",
                    status="pending",
                    updated_at=T0,
                )
            )
        )
        clock.now = T0 + timedelta(hours=2)
        assert manager.run() == {"mails_sent": 1, "signups_expired": 1}
        with cloud.db.reader() as session:
            signup = session.get(PortalSignup, "s1")
            assert signup is not None and (signup.status, signup.password_hash) == ("expired", None)
        assert manager.run() == {"mails_sent": 0, "signups_expired": 0}
    finally:
        cloud.close()
