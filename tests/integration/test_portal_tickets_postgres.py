"""Support tickets on PostgreSQL: replies written at the same moment from many threads (SERIALIZABLE
writers) each get the next position of the thread, and none fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.billing import BillingAccount, BillingAccountProject
from overcast.db.models.identity import Domain, User
from overcast.mail import Mail, Mailer
from overcast.portal.outbox import Outbox
from overcast.portal.tickets import TicketsAPI, TicketSettings

pytestmark = pytest.mark.postgresql

START = datetime(2031, 3, 1, tzinfo=UTC)
ALICE = RequestContext(user_id="u-alice", user_name="alice", project_id="p-alice", roles=("member", "reader"))
REPLIES = 8


class KeepingMailer(Mailer):
    def __init__(self) -> None:
        self.sent: list[Mail] = []

    def send(self, mail: Mail) -> str:
        self.sent.append(mail)
        return f"<{len(self.sent)}@test>"


@pytest.fixture
def database(postgres_db_url: str) -> Iterator[Database]:
    db = Database(postgres_db_url)
    db.upgrade()
    with db.writer() as session:
        session.add(Domain(id="default", name="Default"))
        session.add(User(id="u-alice", name="alice", domain_id="default", email="alice@example.test"))
        session.add(BillingAccount(id="a-alice", name="alice-co", currency="EUR", price_list="standard",
                                   mode="postpaid", opened_at=START))  # fmt: skip
        session.flush()
        session.add(BillingAccountProject(project_id="p-alice", account_id="a-alice"))
    yield db
    db.dispose()


def test_concurrent_replies_each_take_the_next_position(database: Database) -> None:
    def frozen() -> datetime:
        return START

    settings = TicketSettings(attachment_max_bytes=1024, support_address="help@cloud.test")
    api = TicketsAPI(
        database,
        Outbox(database, KeepingMailer(), frozen, retry_seconds=0),
        frozen,
        "https://cloud.test",
        settings,
    )
    ticket = api.create(ALICE, {"subject": "Disk full", "category": "technical", "body": "first"})
    start = threading.Barrier(REPLIES)
    failures: list[BaseException] = []

    def reply(number: int) -> None:
        start.wait()
        try:
            api.reply(ALICE, ticket["id"], {"body": f"reply {number}"})
        except BaseException as error:  # the thread's failure is the test's
            failures.append(error)

    threads = [threading.Thread(target=reply, args=(number,)) for number in range(REPLIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    bodies = [message["body"] for message in api.get(ALICE, ticket["id"])["messages"]]
    assert bodies[0] == "first"
    assert sorted(bodies[1:]) == sorted(f"reply {number}" for number in range(REPLIES))
