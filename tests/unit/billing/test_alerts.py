"""Budget alerts through the cloud's mailer: one mail per period and percentage, and a mail the mailer
could not hand over is tried again at the next check (never marked sent)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.billing import accounts, prices
from overcast.billing.alerts import BudgetAlerts
from overcast.db import Database
from overcast.db.models.billing import BillingAccount
from overcast.mail import Mail, Mailer, MailError, MailFolder
from tests.unit.billing.test_invoices import MARCH, Clock, RecordedUsage


class FlakyMailer(Mailer):
    """Refuses the first `failures` mails, then writes to a folder."""

    def __init__(self, folder: MailFolder, failures: int) -> None:
        self.folder, self.failures = folder, failures

    def send(self, mail: Mail) -> str:
        if self.failures:
            self.failures -= 1
            raise MailError("relay down")
        return self.folder.send(mail)


def _account(db: Database) -> BillingAccount:
    def setup(session: Session) -> str:
        prices.create(
            session, {"name": "standard", "currency": "EUR", "rates": [
                {"metric": "instance.running", "unit": "hour", "price": "0.10"}]}, MARCH - timedelta(days=30),
        )  # fmt: skip
        account = accounts.create(
            session,
            {"name": "acme", "currency": "EUR", "price_list": "standard", "budget": "2",
             "alert_percentages": [50], "email": "ada@example.com"},
            MARCH,
        )  # fmt: skip
        accounts.add_project(session, account, "p1", None)
        return account.id

    account_id = db.write(setup)
    with db.reader() as session:
        account = session.scalars(select(BillingAccount).where(BillingAccount.id == account_id)).one()
        session.expunge(account)
    return account


def test_an_alert_not_mailed_is_retried_then_sent_once(db: Database, tmp_path: Path) -> None:
    clock = Clock(MARCH + timedelta(days=1))
    usage = RecordedUsage(clock)
    usage.run("s1", MARCH, 12)  # 1.20 EUR of a 2 EUR budget: past 50%
    folder = MailFolder(tmp_path / "mail")
    notified: list[dict[str, Any]] = []
    alerts = BudgetAlerts(
        db, usage, clock, "month", lambda event, payload: notified.append(payload), FlakyMailer(folder, 1)
    )
    account = _account(db)
    assert alerts.check(account) == [] and notified == [] and folder.list() == []
    sent = alerts.check(account)
    assert [(alert["percentage"], alert["spent"]) for alert in sent] == [(50, "1.20")]
    assert notified == sent
    assert [(mail.to, mail.subject) for mail in folder.list()] == [
        (("ada@example.com",), "Overcast budget alert: acme has spent 50% of its budget")
    ]
    assert alerts.check(account) == [] and len(folder.list()) == 1
