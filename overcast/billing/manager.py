"""The billing service: every check_interval it drafts (and, with auto_issue, issues) the invoices of the
period that just closed, sends budget alerts, and tracks credit limits (stopping servers after the grace
period when `stop_servers_after` is set). Several billing services may run: every step is idempotent or a
compare-and-swap."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import select

from overcast import errors
from overcast.billing import invoices, periods
from overcast.billing.alerts import BudgetAlerts
from overcast.billing.enforcement import CreditEnforcer, StopServer
from overcast.billing.rpcapi import BINARY, TOPIC
from overcast.billing.settings import BillingSettings
from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.billing import BillingAccount
from overcast.mail import Mailer, mailer_from
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.metering.usage import UsageReader

LOG = logging.getLogger(__name__)

CHECK_INTERVAL = 60.0


def compute_stopper(cloud: Cloud) -> StopServer:
    """Stop a server as an admin would, through compute's stop action (its state checks, its record)."""
    from overcast.compute.api import ComputeService
    from overcast.image.api import ImageAPI
    from overcast.image.settings import ImageSettings

    compute = ComputeService(cloud, ImageAPI(cloud, ImageSettings()))
    return compute.actions.stop


class BillingManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.0"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(
        self,
        cloud: Cloud,
        host: str,
        *,
        settings: BillingSettings | None = None,
        stop_server: StopServer | None = None,
        mailer: Mailer | None = None,
    ) -> None:
        super().__init__(cloud, host)
        self.settings = settings or BillingSettings()
        clock = lambda: cloud.clock()  # noqa: E731 - tests set the cloud's clock after start
        self.clock = clock
        usage = UsageReader(cloud.db, clock)
        kind = self.settings.period
        self.invoicer = invoices.Invoicer(cloud.db, usage, clock, kind, self.settings.adjustment_periods)
        notifier = cloud.notifier(f"billing.{host}")
        mailer = mailer or mailer_from(cloud.settings)
        self.alerts = BudgetAlerts(
            cloud.db,
            usage,
            clock,
            kind,
            lambda event, payload: notifier.info(RequestContext.admin(), event, payload),
            mailer,
        )
        if stop_server is None and self.settings.stop_servers_after is not None:
            stop_server = compute_stopper(cloud)
        self.enforcer = CreditEnforcer(
            cloud.db, usage, clock, kind, self.settings.stop_servers_after, stop_server
        )

    @periodic_task(CHECK_INTERVAL)
    def check_accounts(self) -> None:
        self.check()

    @rpc_method
    def check_now(self, ctxt: RequestContext) -> dict[str, Any]:
        return self.check()

    def check(self) -> dict[str, Any]:
        now = self.clock()
        kind = self.settings.period
        closed = periods.period_start(kind, periods.period_start(kind, now) - timedelta(microseconds=1))
        with self.cloud.db.reader() as session:
            accounts = list(session.scalars(select(BillingAccount).order_by(BillingAccount.name)))
            session.expunge_all()
        result: dict[str, Any] = {"invoices": [], "alerts": [], "over_limit": [], "stopped": []}
        for account in accounts:
            try:
                invoice = self.invoicer.generate(account.id, closed)
                if self.settings.auto_issue and invoice.status == invoices.DRAFT:
                    invoice = self.invoicer.move(invoice.id, "issue")
                result["invoices"].append(invoice.id)
                result["alerts"].extend(self.alerts.check(account))
                over, stopped = self.enforcer.check(account)
            except (errors.OvercastError, OSError) as exc:
                LOG.warning("Billing check of account %s failed: %s", account.name, exc)
                continue
            if over:
                result["over_limit"].append(account.id)
            result["stopped"].extend(stopped)
        return result
