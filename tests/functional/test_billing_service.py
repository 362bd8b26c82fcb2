"""The billing service's checks end to end: budget alerts by e-mail (an aiosmtpd relay on loopback), a
prepaid account going past its credit limit, its running server stopped after the grace period (never
deleted), and no new server for it, with the fake driver and an injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from openstack.connection import Connection
from openstack.exceptions import HttpException
from sqlalchemy import select

from overcast.billing.manager import BillingManager, compute_stopper
from overcast.billing.rpcapi import BillingServiceAPI
from overcast.billing.settings import BillingSettings
from overcast.context import RequestContext
from overcast.db.models.metering import UsageEvent
from overcast.mail import SmtpRelay
from overcast.metering.manager import MeteringManager
from overcast.service import Service
from tests.support.clock import FakeClock, cloud_clock
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud, move_clock, project_token
from tests.support.compute_api import INTERVAL, WAIT_SECONDS, settled
from tests.support.smtp import Inbox, smtp_inbox
from tests.support.waiting import wait_until

T0 = datetime(2031, 5, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture(scope="module")
def clock() -> Iterator[FakeClock]:
    with cloud_clock(T0) as clock:
        yield clock


@pytest.fixture(scope="module")
def inbox() -> Iterator[tuple[Inbox, int]]:
    with smtp_inbox() as relay:
        yield relay


@pytest.fixture(scope="module")
def cloud(
    tmp_path_factory: pytest.TempPathFactory, clock: FakeClock, inbox: tuple[Inbox, int]
) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("billing-service"), clock=clock)
    settings = BillingSettings(stop_servers_after=3600)
    relay = SmtpRelay("127.0.0.1", inbox[1], sender="billing@overcast.invalid")
    managers = [
        MeteringManager(running.cloud, "metering-1"),
        BillingManager(
            running.cloud,
            "billing-1",
            settings=settings,
            stop_server=compute_stopper(running.cloud),
            mailer=relay,
        ),
    ]
    for manager in managers:
        service = Service(running.cloud, manager)
        service.start()
        running.services.append(service)
    yield running
    running.stop()


def advance_to(cloud: InProcessCloud, clock: FakeClock, at: timedelta) -> None:
    move_clock(cloud, clock, T0 + at)


def billing(
    cloud: InProcessCloud, token: str, method: str, path: str, body: Any = None, expect: int = 200
) -> Any:
    response = httpx.request(
        method, f"{cloud.base_url}/billing/v1{path}", json=body, headers={"X-Auth-Token": token}, timeout=30
    )
    assert response.status_code == expect, response.text
    return response.json()


def test_budget_alerts_mail_once_and_a_server_past_the_credit_limit_is_stopped_after_the_grace(
    cloud: InProcessCloud, clock: FakeClock, admin: Connection, inbox: tuple[Inbox, int]
) -> None:
    token = project_token(cloud, "admin")
    billing(cloud, token, "POST", "/price-lists", {"price_list": {
        "name": "flat", "currency": "EUR", "effective_from": (T0 - 30 * 24 * HOUR).isoformat(),
        "rates": [{"metric": "instance.running", "price": "1.00"}],
    }}, expect=201)  # fmt: skip
    account = billing(cloud, token, "POST", "/accounts", {"account": {
        "name": "beta", "currency": "EUR", "price_list": "flat", "mode": "prepaid", "budget": "2.00",
        "alert_percentages": [50, 100], "email": "ops@example.com",
    }}, expect=201)["account"]  # fmt: skip
    assert account["credit_limit"] == "0"  # prepaid: what was paid, no more
    billing(cloud, token, "PUT", f"/accounts/{account['id']}/projects/{admin.current_project_id}")
    billing(cloud, token, "POST", "/payments", {"payment": {
        "account_id": account["id"], "amount": "2.00", "currency": "EUR", "reference": "top-up-1",
    }}, expect=201)  # fmt: skip
    service = BillingServiceAPI(cloud.cloud.transport)
    server = admin.compute.wait_for_server(
        admin.compute.create_server(name="paid", image_id=IMAGE_ID, flavor_id=TINY, networks="none"),
        status="ACTIVE", failures=["ERROR"], interval=INTERVAL, wait=WAIT_SECONDS,
    )  # fmt: skip

    def metered() -> bool:
        with cloud.cloud.db.reader() as session:
            return (
                session.scalar(select(UsageEvent.id).where(UsageEvent.resource_id == server.id)) is not None
            )

    # The compute host's notification carries the clock of when it is sent: move it only after.
    wait_until(metered, 60, what="the server's creation metered")

    def check() -> dict[str, Any]:
        return service.check_now(RequestContext.admin())

    advance_to(cloud, clock, HOUR)  # 1.00 spent: half the budget
    wait_until(
        lambda: billing(cloud, token, "GET", "/balance")["balance"]["accrued"] == "1.00", 60, what="usage"
    )
    first = check()
    assert [(alert["percentage"], alert["spent"]) for alert in first["alerts"]] == [(50, "1.00")]
    assert (first["over_limit"], first["stopped"]) == ([], [])
    [mail] = inbox[0].messages
    assert (mail["To"], mail["Subject"]) == (
        "ops@example.com",
        "Overcast budget alert: beta has spent 50% of its budget",
    )

    advance_to(cloud, clock, 3 * HOUR)  # 3.00 spent, 2.00 paid: past the limit, within the grace
    second = check()
    assert [alert["percentage"] for alert in second["alerts"]] == [100]
    assert (second["over_limit"], second["stopped"]) == ([account["id"]], [])
    assert check()["alerts"] == []  # each alert once
    with pytest.raises(HttpException) as refused:
        admin.compute.create_server(name="more", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    assert refused.value.status_code == 402 and "Billing account beta" in str(refused.value)
    with pytest.raises(HttpException) as refused:
        admin.block_storage.create_volume(size=1, name="more")
    assert refused.value.status_code == 402 and "No new volume" in str(refused.value)

    advance_to(cloud, clock, 4 * HOUR + timedelta(seconds=1))  # an hour past the limit: stopped, not deleted
    assert check()["stopped"] == [server.id]
    settled(admin, server.id, "SHUTOFF")
    assert len(inbox[0].messages) == 2
