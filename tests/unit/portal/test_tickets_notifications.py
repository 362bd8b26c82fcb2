"""Ticket events on a real (in-process) bus, heard by a NotificationListener as metering would hear them:
opening, replies (internal notes flagged, no text), and status moves with the status they left."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from overcast.bus import NotificationListener, get_transport
from overcast.bus.notify import Notifier
from overcast.bus.transport import Transport
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.billing import BillingAccount, BillingAccountProject
from overcast.db.models.identity import Domain, Role, RoleAssignment, User
from overcast.mail import Mail, Mailer
from overcast.portal.outbox import Outbox
from overcast.portal.tickets import TicketsAPI
from tests.support.waiting import wait_until

START = datetime(2031, 3, 1, tzinfo=UTC)
ADA = RequestContext(user_id="u-ada", user_name="ada", project_id="p-ada", roles=("member", "reader"))
SAM = RequestContext(user_id="u-sam", user_name="sam", project_id="p-ops", roles=("support",))


class NoMail(Mailer):
    def send(self, mail: Mail) -> str:
        return "<kept@test>"


class Heard:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def info(
        self, ctxt: RequestContext, publisher_id: str, event_type: str, payload: dict[str, Any], meta: Any
    ) -> None:
        with self.lock:
            self.events.append((publisher_id, event_type, payload))

    def wait_for(self, count: int) -> list[tuple[str, str, dict[str, Any]]]:
        wait_until(lambda: len(self.events) >= count, what=f"{count} ticket notifications")
        with self.lock:
            return list(self.events)


@pytest.fixture
def transport() -> Iterator[Transport]:
    bus = get_transport(f"inproc://tickets-{uuid.uuid4().hex}")
    yield bus
    bus.close()


@pytest.fixture
def heard(transport: Transport) -> Iterator[Heard]:
    received = Heard()
    listener = NotificationListener(transport, [received], pool="test-tickets")
    listener.start()
    yield received
    listener.stop()
    listener.wait(5)


@pytest.fixture
def api(db: Database, transport: Transport) -> TicketsAPI:
    with db.writer() as session:
        session.add(Domain(id="default", name="Default"))
        for user_id, name in (("u-ada", "ada"), ("u-sam", "sam")):
            session.add(User(id=user_id, name=name, domain_id="default", email=f"{name}@example.test"))
        session.add(Role(id="r-support", name="support"))
        session.flush()
        session.add(
            RoleAssignment(user_id="u-sam", target_type="project", target_id="p-ops", role_id="r-support")
        )
        session.add(BillingAccount(id="a-ada", name="ada-co", currency="EUR", price_list="standard",
                                   mode="postpaid", opened_at=START))  # fmt: skip
        session.flush()
        session.add(BillingAccountProject(project_id="p-ada", account_id="a-ada"))
    clock = lambda: START  # noqa: E731
    notifier = Notifier(transport, "portal-api", clock=clock)
    return TicketsAPI(
        db, Outbox(db, NoMail(), clock), clock, "http://cloud.test/dashboard", notifier=notifier
    )


def test_ticket_events_reach_the_bus(api: TicketsAPI, heard: Heard) -> None:
    ticket = api.create(ADA, {"subject": "Disk full", "category": "technical", "body": "secret details"})
    api.reply(SAM, ticket["id"], {"body": "ops-42: host c2", "internal": True})
    api.reply(SAM, ticket["id"], {"body": "Grow it"})
    api.update(ADA, ticket["id"], {"status": "closed"})

    events = heard.wait_for(5)
    # A listener pool may run its deliveries on several threads: the order is not the bus's promise.
    kinds = [(event_type, payload.get("internal"), payload.get("old_status"), payload["status"])
             for _, event_type, payload in events]  # fmt: skip
    assert sorted(kinds, key=repr) == sorted(
        [
            ("portal.ticket.create", None, None, "open"),
            ("portal.ticket.reply", True, None, "open"),
            ("portal.ticket.reply", False, None, "waiting-for-customer"),
            ("portal.ticket.status", None, "open", "waiting-for-customer"),
            ("portal.ticket.status", None, "waiting-for-customer", "closed"),
        ],
        key=repr,
    )
    assert {publisher for publisher, _, _ in events} == {"portal-api"}
    [created] = [payload for _, event_type, payload in events if event_type == "portal.ticket.create"]
    assert (created["ticket_id"], created["tenant_id"], created["account_id"], created["user_id"]) == (
        ticket["id"],
        "p-ada",
        "a-ada",
        "u-ada",
    )
    assert created["created_at"] == START.isoformat() and created["category"] == "technical"
    # Listeners count and route: no message text, internal or not, travels on the bus.
    assert not any("secret details" in str(payload) or "ops-42" in str(payload) for _, _, payload in events)
    [closing] = [payload for _, _, payload in events if payload.get("old_status") == "waiting-for-customer"]
    assert closing["changed_by"] == "u-ada" and closing["closed_at"] == START.isoformat()
