"""Budget alerts: when an account's spending in the open period passes a percentage of its budget, one
e-mail (through the cloud's mailer, `overcast.mail`) and one notification (`billing.budget.alert`), once per
period and percentage (the alert's row is the lock: of two services, one inserts it and sends; a mail the
mailer could not hand over gives the row back, so the next check tries again)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from overcast.billing import accounts, invoices, periods, rating
from overcast.billing.money import text
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount, BudgetAlert
from overcast.mail import Mail, Mailer, MailError

LOG = logging.getLogger(__name__)

Notify = Callable[[str, dict[str, Any]], None]
EVENT_TYPE = "billing.budget.alert"


@dataclass
class BudgetAlerts:
    db: Database
    usage: invoices.UsageSource
    clock: Callable[[], datetime]
    period_kind: str
    notify: Notify
    mailer: Mailer | None = None

    def check(self, account: BillingAccount) -> list[dict[str, Any]]:
        """The alerts this check sent for the account (none if it has no budget or nothing new passed)."""
        if account.budget is None or not account.alert_percentages:
            return []
        now = self.clock()
        start = periods.period_start(self.period_kind, now)
        with self.db.reader() as session:
            terms = accounts.terms(session, account)
        spent = rating.total(invoices.rate_account(self.usage, terms, start, now, period_start=start))
        budget = Decimal(account.budget)
        sent = []
        for percentage in account.alert_percentages:
            if budget <= 0 or spent * 100 < budget * percentage:
                continue
            if not self._claim(account.id, start, percentage, spent, now):
                continue
            alert = {
                "account_id": account.id, "account_name": account.name, "currency": account.currency,
                "period": periods.label(self.period_kind, start), "percentage": percentage,
                "budget": account.budget, "spent": text(spent),
            }  # fmt: skip
            if self.mailer is not None and account.email:
                try:
                    self.mailer.send(self._mail(account, alert))
                except MailError as exc:
                    LOG.warning("Budget alert of account %s not mailed, retried later: %s", account.name, exc)
                    self._release(account.id, start, percentage)
                    continue
            self.notify(EVENT_TYPE, alert)
            sent.append(alert)
        return sent

    @staticmethod
    def _mail(account: BillingAccount, alert: dict[str, Any]) -> Mail:
        assert account.email is not None  # only accounts with an address are mailed
        return Mail(
            to=(account.email,),
            subject=f"Overcast budget alert: {account.name} has spent {alert['percentage']}% of its budget",
            body=f"Billing account {account.name} ({account.id}) has spent {alert['spent']} "
            f"{account.currency} of its {account.budget} {account.currency} budget "
            f"for {alert['period']} ({alert['percentage']}% alert).\n",
        )

    def _release(self, account_id: str, start: datetime, percentage: int) -> None:
        self.db.write(
            lambda session: session.execute(
                delete(BudgetAlert).where(
                    BudgetAlert.account_id == account_id,
                    BudgetAlert.period_start == start,
                    BudgetAlert.percentage == percentage,
                )
            )
        )

    def _claim(
        self, account_id: str, start: datetime, percentage: int, spent: Decimal, now: datetime
    ) -> bool:
        try:
            self.db.write(
                lambda session: session.add(
                    BudgetAlert(
                        account_id=account_id,
                        period_start=start,
                        percentage=percentage,
                        spent=text(spent),
                        sent_at=now,
                    )
                )
            )
        except IntegrityError:
            return False  # sent already, by this service or another
        return True
