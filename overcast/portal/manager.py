"""The portal service: every minute it hands over the outbox's mails whose retry time has come, and
forgets the passwords of sign-ups whose links expired unused. Several may run: a mail's delivery is
claimed by compare-and-swap, and expiring a sign-up is idempotent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from sqlalchemy import update

from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.db.models.portal import PortalSignup
from overcast.mail import Mailer, mailer_from
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.portal.outbox import Outbox
from overcast.portal.rpcapi import BINARY, TOPIC
from overcast.portal.settings import PortalSettings
from overcast.portal.signups import PENDING
from overcast.portal.tokens import rows_changed

CHECK_INTERVAL = 60.0
EXPIRED = "expired"


class PortalManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.0"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(
        self, cloud: Cloud, host: str, *, settings: PortalSettings | None = None, mailer: Mailer | None = None
    ) -> None:
        super().__init__(cloud, host)
        self.settings = settings or PortalSettings()
        self.clock = lambda: cloud.clock()  # tests set the cloud's clock after start
        self.outbox = Outbox(
            cloud.db,
            mailer or mailer_from(cloud.settings),
            self.clock,
            max_attempts=self.settings.mail_max_attempts,
            retry_seconds=self.settings.mail_retry_seconds,
        )

    @periodic_task(CHECK_INTERVAL)
    def periodic_work(self) -> None:
        self.run()

    @rpc_method
    def run_now(self, ctxt: RequestContext) -> dict[str, Any]:
        return self.run()

    def run(self) -> dict[str, Any]:
        return {"mails_sent": self.outbox.deliver_due(), "signups_expired": self._expire_signups()}

    def _expire_signups(self) -> int:
        cutoff = self.clock() - timedelta(seconds=self.settings.signup_token_ttl)
        return self.cloud.db.write(
            lambda session: rows_changed(
                session,
                update(PortalSignup)
                .where(PortalSignup.status == PENDING, PortalSignup.updated_at < cutoff)
                .values(status=EXPIRED, password_hash=None),
            )
        )
