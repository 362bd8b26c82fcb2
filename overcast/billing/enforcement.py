"""The credit limit over time: an account past it is marked (`over_limit_since`), and, when the
`stop_servers_after` setting is given, its projects' running servers are stopped once it has stayed past
it that long. Servers are stopped through compute's own stop action, never deleted."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.billing import accounts, balances, invoices
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.billing import BillingAccount
from overcast.db.models.compute import Instance

LOG = logging.getLogger(__name__)

StopServer = Callable[[RequestContext, str], None]


@dataclass
class CreditEnforcer:
    db: Database
    usage: invoices.UsageSource
    clock: Callable[[], datetime]
    period_kind: str
    stop_after: float | None  # seconds past the limit before servers stop; None: never
    stop_server: StopServer | None = None

    def check(self, account: BillingAccount) -> tuple[bool, list[str]]:
        """Whether the account is past its limit now, and the servers this check stopped."""
        now = self.clock()
        with self.db.reader() as session:
            over = balances.position(session, self.usage, account, self.period_kind, now).over_limit
        since = self._mark(account, over, now)
        if not over or since is None or self.stop_after is None or self.stop_server is None:
            return over, []
        if now - since < timedelta(seconds=self.stop_after):
            return over, []
        return over, self._stop_running(account)

    def _mark(self, account: BillingAccount, over: bool, now: datetime) -> datetime | None:
        """Record when the account went past its limit (a compare-and-swap from none), or clear it."""

        def work(session: Session) -> None:
            if over:
                session.execute(
                    update(BillingAccount)
                    .where(BillingAccount.id == account.id, BillingAccount.over_limit_since.is_(None))
                    .values(over_limit_since=now)
                )
            else:
                session.execute(
                    update(BillingAccount)
                    .where(BillingAccount.id == account.id)
                    .values(over_limit_since=None)
                )

        self.db.write(work)
        with self.db.reader() as session:
            return session.scalar(
                select(BillingAccount.over_limit_since).where(BillingAccount.id == account.id)
            )

    def _stop_running(self, account: BillingAccount) -> list[str]:
        assert self.stop_server is not None
        with self.db.reader() as session:
            projects = list(accounts.projects(session, account.id))
            running = list(
                session.scalars(
                    select(Instance.uuid).where(
                        Instance.project_id.in_([member.project_id for member in projects]),
                        Instance.deleted.is_(False),
                        Instance.vm_state == "active",
                        Instance.task_state.is_(None),
                    )
                )
            )
        stopped = []
        for uuid in running:
            try:
                self.stop_server(RequestContext.admin(), uuid)
            except errors.OvercastError as exc:  # it changed meanwhile: the next check sees it again
                LOG.warning(
                    "Billing could not stop server %s of account %s: %s", uuid, account.name, exc.message
                )
                continue
            LOG.warning("Stopped server %s: billing account %s is past its credit limit", uuid, account.name)
            stopped.append(uuid)
        return stopped
