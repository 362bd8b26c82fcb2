"""Billing end to end (issue #17's scenario): servers driven through the real API with openstacksdk, the
fake driver, the metering service and an injected clock, over two months and a price change; the invoices
equal amounts computed by hand to the cent, an issued month never changes (a late event is billed as an
adjustment on the next one), and an account past its credit limit cannot create a server.

Prices (EUR per hour), version 1 from January 1st, version 2 from T0 + 5 h:
    running m1.tiny 0.10 -> 0.20, running m1.small 0.40 -> 0.60, stopped 0.01, shelved 0.005.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection
from openstack.exceptions import HttpException

from overcast.billing import balances
from overcast.context import RequestContext
from overcast.metering.rpcapi import MeteringAPI
from tests.support.clock import FakeClock, cloud_clock
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud, move_clock, project_token
from tests.support.compute_api import settled, tiny_server
from tests.support.metering import metered_cloud, recorded
from tests.support.waiting import wait_until

SMALL = "2"  # m1.small
JANUARY = datetime(2031, 1, 1, tzinfo=UTC)
FEBRUARY = datetime(2031, 2, 1, tzinfo=UTC)
MARCH = datetime(2031, 3, 1, tzinfo=UTC)
T0 = datetime(2031, 1, 20, tzinfo=UTC)  # February begins at T0 + 288 h
HOUR = timedelta(hours=1)
SECRET = "webhook-secret-for-tests"
OVERCAST = Path(sys.executable).with_name("overcast")
PRICES: dict[str, dict[str | None, tuple[str, str]]] = {
    "instance.running": {"m1.tiny": ("0.10", "0.20"), "m1.small": ("0.40", "0.60")},
    "instance.stopped": {None: ("0.01", "0.01")},
    "instance.shelved": {None: ("0.005", "0.005")},
}


@pytest.fixture(scope="module")
def clock() -> Iterator[FakeClock]:
    with cloud_clock(T0) as clock:
        yield clock


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[InProcessCloud]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERCAST_BILLING_WEBHOOK_SECRET", SECRET)
        running = metered_cloud(tmp_path_factory.mktemp("billing"), clock, reclaim_instance_interval=3600)
    yield running
    running.stop()


class FlakyBus:
    """The bus as a flaky network treats notifications: doubles one, drops one, or holds every one of a
    type about one server until released (a late delivery, with the timestamps they were sent with)."""

    def __init__(self, cloud: InProcessCloud) -> None:
        self.send = cloud.cloud.transport.notify
        self.drop: set[str] = set()
        self.double: set[str] = set()
        self.holding: set[tuple[str, str]] = set()
        self.held: list[tuple[str, str]] = []

    def notify(self, topic: str, body: str) -> None:
        message = json.loads(body)
        kind = message["event_type"]
        if (kind, message["payload"].get("instance_id")) in self.holding:
            self.held.append((topic, body))
            return
        if kind in self.drop:
            self.drop.discard(kind)
            return
        self.send(topic, body)
        if kind in self.double:
            self.double.discard(kind)
            self.send(topic, body)  # redelivered: the same message
            self.send(topic, json.dumps({**message, "message_id": "published-twice"}))

    def release(self) -> None:
        self.holding.clear()
        for topic, body in self.held:
            self.send(topic, body)
        self.held.clear()


@pytest.fixture
def lossy(cloud: InProcessCloud, monkeypatch: pytest.MonkeyPatch) -> FlakyBus:
    bus = FlakyBus(cloud)
    monkeypatch.setattr(cloud.cloud.transport, "notify", bus.notify)
    return bus


class Billing:
    """The /billing/v1 API over HTTP with a project token."""

    def __init__(self, cloud: InProcessCloud, user: str) -> None:
        self.base = f"{cloud.base_url}/billing/v1"
        self.headers = {"X-Auth-Token": project_token(cloud, user)}

    def call(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = httpx.request(method, self.base + path, json=body, headers=self.headers, timeout=30)
        assert response.status_code == expect, response.text
        return response.json() if response.content and expect != 204 else None


@pytest.fixture(scope="module")
def admin_billing(cloud: InProcessCloud) -> Billing:
    return Billing(cloud, "admin")


@pytest.fixture(scope="module")
def demo_billing(cloud: InProcessCloud) -> Billing:
    return Billing(cloud, "demo")


def advance_to(cloud: InProcessCloud, clock: FakeClock, at: timedelta) -> None:
    move_clock(cloud, clock, T0 + at)


def rates(version: int) -> list[dict[str, Any]]:
    return [
        {"metric": metric, "unit": "hour", "price": pair[version - 1], "match": flavor}
        for metric, by_flavor in PRICES.items()
        for flavor, pair in by_flavor.items()
    ]


def summary(invoice: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return sorted(
        (line["kind"], line["description"], line["quantity"], line["amount"]) for line in invoice["lines"]
    )


def invoice_of(billing: Billing, account_id: str, period: datetime) -> dict[str, Any]:
    [made] = billing.call(
        "POST", "/invoices", {"invoices": {"period_start": period.isoformat(), "account_id": account_id}}
    )["invoices"]
    invoice: dict[str, Any] = billing.call("GET", f"/invoices/{made['id']}")["invoice"]
    return invoice


def overcast_cli(cloud: InProcessCloud, *args: str) -> str:
    """The real `overcast` command on this cloud's database."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("OVERCAST_")}
    command = [str(OVERCAST), *args, "--data-dir", str(cloud.data_dir)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def rated(billing: Billing, account_id: str, period: datetime, expected: list[Any]) -> dict[str, Any]:
    """The period's draft once metering has recorded every notification sent so far."""
    deadline = time.monotonic() + 30
    while summary(invoice := invoice_of(billing, account_id, period)) != sorted(expected):
        if time.monotonic() > deadline:
            assert summary(invoice) == sorted(expected)
        time.sleep(0.1)
    return invoice


def test_two_months_of_servers_are_invoiced_to_the_cent_and_a_closed_month_never_changes(
    cloud: InProcessCloud,
    clock: FakeClock,
    demo: Connection,
    admin_billing: Billing,
    demo_billing: Billing,
    lossy: FlakyBus,
) -> None:
    admin_billing.call("POST", "/price-lists", {"price_list": {
        "name": "standard", "currency": "EUR", "effective_from": JANUARY.isoformat(), "rates": rates(1),
    }}, expect=201)  # fmt: skip
    admin_billing.call("POST", "/price-lists", {"price_list": {
        "name": "standard", "currency": "EUR", "effective_from": (T0 + 5 * HOUR).isoformat(),
        "rates": rates(2),
    }}, expect=201)  # fmt: skip
    account = admin_billing.call("POST", "/accounts", {"account": {
        "name": "acme", "currency": "EUR", "price_list": "standard", "mode": "postpaid", "credit_limit": "20",
    }}, expect=201)["account"]  # fmt: skip
    admin_billing.call("PUT", f"/accounts/{account['id']}/projects/{demo.current_project_id}")

    # Server A: a stop/start, a resize, a shelve across the price change, a deleted and restored server.
    a = tiny_server(demo, "a")
    recorded(cloud, a.id, "create.end")
    advance_to(cloud, clock, 1 * HOUR)
    demo.compute.stop_server(a)
    settled(demo, a.id, "SHUTOFF")
    recorded(cloud, a.id, "power_off.end")
    advance_to(cloud, clock, 2 * HOUR)
    demo.compute.start_server(a)
    settled(demo, a.id, "ACTIVE")
    recorded(cloud, a.id, "power_on.end")
    advance_to(cloud, clock, 3 * HOUR)
    demo.compute.resize_server(a, SMALL)
    settled(demo, a.id, "VERIFY_RESIZE")
    recorded(cloud, a.id, "finish_resize.end")
    advance_to(cloud, clock, 3.25 * HOUR)
    demo.compute.confirm_server_resize(a)
    settled(demo, a.id, "ACTIVE")
    recorded(cloud, a.id, "resize.confirm.end")
    advance_to(cloud, clock, 4 * HOUR)
    demo.compute.shelve_server(a)
    settled(demo, a.id, "SHELVED_OFFLOADED")
    recorded(cloud, a.id, "shelve_offload.end")
    advance_to(cloud, clock, 6 * HOUR)
    demo.compute.unshelve_server(a)
    settled(demo, a.id, "ACTIVE")
    recorded(cloud, a.id, "unshelve.end")
    advance_to(cloud, clock, 8 * HOUR)
    demo.compute.delete_server(a)  # soft: reclaim_instance_interval is set
    settled(demo, a.id, "SOFT_DELETED")
    recorded(cloud, a.id, "soft_delete.end")
    advance_to(cloud, clock, 9 * HOUR)
    demo.compute.restore_server(a)
    settled(demo, a.id, "ACTIVE")
    recorded(cloud, a.id, "restore.end")
    advance_to(cloud, clock, 10 * HOUR)
    demo.compute.delete_server(a, force=True)
    demo.compute.wait_for_delete(a)
    recorded(cloud, a.id, "delete.end")

    # Server B: its create notification is published twice, its stop is lost and the audit heals it.
    advance_to(cloud, clock, 20 * HOUR)
    lossy.double.add("compute.instance.create.end")
    b = tiny_server(demo, "b")
    recorded(cloud, b.id, "create.end")
    advance_to(cloud, clock, 21 * HOUR)
    lossy.drop.add("compute.instance.power_off.end")
    demo.compute.stop_server(b)
    settled(demo, b.id, "SHUTOFF")
    wait_until(lambda: not lossy.drop, 60, what="the stop's notification lost")
    advance_to(cloud, clock, 22 * HOUR)  # the audit leaves rows changed within its grace alone
    MeteringAPI(cloud.cloud.transport).audit_now(RequestContext.admin())

    # Server C runs into February; its stop's notification arrives only after January is issued.
    advance_to(cloud, clock, 280 * HOUR)
    c = tiny_server(demo, "c")
    recorded(cloud, c.id, "create.end")
    advance_to(cloud, clock, 284 * HOUR)
    lossy.holding.add(("compute.instance.power_off.end", c.id))
    demo.compute.stop_server(c)
    settled(demo, c.id, "SHUTOFF")
    wait_until(lambda: lossy.held, 60, what="the stop's notification held")
    advance_to(cloud, clock, 290 * HOUR)

    january_lines = [
        ("usage", "instance.running m1.tiny", "2", "0.20"),  # A: 0-1 h and 2-3 h at 0.10
        ("usage", "instance.stopped m1.tiny", "1", "0.01"),  # A: 1-2 h
        ("usage", "instance.running m1.small", "1", "0.40"),  # A: 3-4 h at 0.40
        ("usage", "instance.shelved m1.small", "1", "0.01"),  # A: 4-5 h at 0.005, rounded half up
        ("usage", "instance.shelved m1.small", "1", "0.01"),  # A: 5-6 h, the new version
        ("usage", "instance.running m1.small", "3", "1.80"),  # A: 6-8 h and 9-10 h at 0.60
        ("usage", "instance.running m1.tiny", "1", "0.20"),  # B: 20-21 h at 0.20
        ("usage", "instance.stopped m1.tiny", "267", "2.67"),  # B: 21-288 h
        ("usage", "instance.running m1.tiny", "8", "1.60"),  # C: 280-288 h, its stop unknown yet
    ]
    january = rated(admin_billing, account["id"], JANUARY, january_lines)
    assert (january["status"], january["total"]) == ("draft", "6.90")
    issued = admin_billing.call("POST", f"/invoices/{january['id']}/action", {"issue": {}})["invoice"]
    assert issued["status"] == "issued" and issued["number"].startswith("INV-")

    # C's stop arrives late and changes what metering says of January: January stays as issued.
    lossy.release()
    recorded(cloud, c.id, "power_off.end")
    unchanged = {**january, **issued, "lines": january["lines"]}
    assert invoice_of(admin_billing, account["id"], JANUARY) == unchanged

    advance_to(cloud, clock, 300 * HOUR)
    demo.compute.delete_server(b, force=True)
    demo.compute.wait_for_delete(b)
    recorded(cloud, b.id, "delete.end")
    advance_to(cloud, clock, 310 * HOUR)
    demo.compute.delete_server(c, force=True)
    demo.compute.wait_for_delete(c)
    recorded(cloud, c.id, "delete.end")
    advance_to(cloud, clock, 400 * HOUR)
    d = tiny_server(demo, "d")
    recorded(cloud, d.id, "create.end")
    advance_to(cloud, clock, 410 * HOUR)
    demo.compute.delete_server(d, force=True)
    demo.compute.wait_for_delete(d)
    recorded(cloud, d.id, "delete.end")
    advance_to(cloud, clock, MARCH - T0 + HOUR)

    adjusted = "adjustment for 2031-01: instance"
    february_lines = [
        ("usage", "instance.stopped m1.tiny", "12", "0.12"),  # B: 288-300 h
        ("usage", "instance.stopped m1.tiny", "22", "0.22"),  # C: 288-310 h
        ("usage", "instance.running m1.tiny", "10", "2.00"),  # D: 400-410 h
        ("adjustment", f"{adjusted}.running m1.tiny", "-4", "-0.80"),  # C ran 4 h, not 8
        ("adjustment", f"{adjusted}.stopped m1.tiny", "4", "0.04"),  # C stopped 284-288 h
    ]
    february = rated(admin_billing, account["id"], FEBRUARY, february_lines)
    assert february["total"] == "1.58"
    admin_billing.call("POST", f"/invoices/{february['id']}/action", {"issue": {}})
    assert summary(invoice_of(admin_billing, account["id"], JANUARY)) == sorted(january_lines)

    # /metrics: what issued invoices billed per metric (January's and February's, adjustments included).
    scraped = httpx.get(f"{cloud.base_url}/metrics", timeout=30).text
    revenue = {
        metric: float(value)
        for metric, value in re.findall(
            r'overcast_billing_rated_revenue_total\{currency="EUR",metric="([^"]+)"\} (\S+)', scraped
        )
    }
    assert revenue == {"instance.running": 5.40, "instance.stopped": 3.06, "instance.shelved": 0.02}

    # A member sees their own account's invoices and balance, and may not issue one.
    mine = demo_billing.call("GET", "/invoices")["invoices"]
    assert [(invoice["period_start"], invoice["total"]) for invoice in mine] == [
        (JANUARY.isoformat(), "6.90"), (FEBRUARY.isoformat(), "1.58"),
    ]  # fmt: skip
    demo_billing.call("POST", f"/invoices/{february['id']}/action", {"void": {}}, expect=403)
    balance = demo_billing.call("GET", "/balance")["balance"]
    assert (balance["invoiced"], balance["balance"], balance["over_limit"]) == ("8.48", "-8.48", False)

    # Past the credit limit: no new server, and the message names the account.
    admin_billing.call("PATCH", f"/accounts/{account['id']}", {"account": {"credit_limit": "5"}})
    with pytest.raises(HttpException) as refused:
        demo.compute.create_server(name="e", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    assert refused.value.status_code == 402
    assert f"Billing account acme ({account['id']}) is past its credit limit" in str(refused.value)

    # A payment through the signed webhook, sent twice, counts once and lets the account create again.
    body = json.dumps(
        {"account_id": account["id"], "amount": "8.48", "currency": "EUR", "reference": "psp-0001"}
    ).encode()
    headers = {balances.SIGNATURE_HEADER: balances.sign(SECRET, int(clock.now.timestamp()), body)}
    url = f"{cloud.base_url}/billing/v1/payments/webhook"
    assert httpx.post(url, content=body, headers=headers, timeout=30).status_code == 201
    assert httpx.post(url, content=body, headers=headers, timeout=30).status_code == 200
    assert demo_billing.call("GET", "/balance")["balance"]["balance"] == "0.00"
    e = tiny_server(demo, "e")
    demo.compute.delete_server(e, force=True)

    # The operator's CLI reads the same invoices: January as CSV and PDF, and the account's balance.
    csv_rows = overcast_cli(
        cloud, "billing", "invoice", "export", january["id"], "--format", "csv"
    ).splitlines()
    assert csv_rows[0].startswith("position,kind,period_start,project_id")
    assert sorted(row.split(",")[-3] for row in csv_rows[1:]) == sorted(line[3] for line in january_lines)
    pdf = cloud.data_dir / "january.pdf"
    overcast_cli(
        cloud, "billing", "invoice", "export", january["id"], "--format", "pdf", "--output", str(pdf)
    )
    assert pdf.read_bytes().startswith(b"%PDF-")
    shown = json.loads(overcast_cli(cloud, "billing", "account", "show", account["id"]))
    assert (shown["name"], shown["balance"]["paid"], shown["balance"]["invoiced"]) == ("acme", "8.48", "8.48")
