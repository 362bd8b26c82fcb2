"""The portal's account and billing pages over real HTTP, as a browser without JavaScript meets them:
usage charted from /billing/v1/usage with an injected clock, an invoice and its PDF, the balance with its
payments, API credentials whose downloaded clouds.yaml and EC2 environment file real clients log in with,
and a password change that keeps the session."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import yaml
from openstack.config.loader import OpenStackConfig
from openstack.connection import Connection
from sqlalchemy import select

from overcast.db.models.metering import UsageEvent
from overcast.metering.manager import MeteringManager
from overcast.service import Service
from tests.support.api_apps import roomy_login_limits
from tests.support.clock import FakeClock, cloud_clock
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud, move_clock, project_token
from tests.support.compute_api import INTERVAL, WAIT_SECONDS
from tests.support.dashboard import FormClient
from tests.support.waiting import wait_until

HOUR = timedelta(hours=1)
# Keystone makes and checks tokens on wall time, the dashboard's sessions and EC2's signatures on the
# cloud's clock: the injected clock starts near wall time (6 hours back, unless that is last month, so
# the 5 hours it moves stay in one month) and tokens live long enough for the hours it moves.
_WALL = datetime.now(UTC).replace(microsecond=0)
T0 = _WALL - 6 * HOUR if (_WALL - 6 * HOUR).month == (_WALL - HOUR).month else _WALL
LAST_MONTH = (T0.replace(day=1) - timedelta(days=1)).replace(day=1, hour=0, minute=0, second=0)
TOKEN_TTL = str(40 * 24 * 3600)


@pytest.fixture(scope="module")
def clock() -> Iterator[FakeClock]:
    with cloud_clock(T0) as clock:
        yield clock


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[InProcessCloud]:
    with roomy_login_limits(), pytest.MonkeyPatch.context() as env:
        env.setenv("OVERCAST_IDENTITY_TOKEN_TTL_SECONDS", TOKEN_TTL)
        running = InProcessCloud(tmp_path_factory.mktemp("dashboard-portal"), clock=clock)
    metering = Service(running.cloud, MeteringManager(running.cloud, "metering-1"))
    metering.start()
    running.services.append(metering)
    yield running
    running.stop()


def billing(cloud: InProcessCloud, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
    token = project_token(cloud, "admin")
    response = httpx.request(
        method, f"{cloud.base_url}/billing/v1{path}", json=body, headers={"X-Auth-Token": token}, timeout=30
    )
    assert response.status_code == expect, response.text
    return response.json()


@pytest.fixture(scope="module")
def account(cloud: InProcessCloud, demo: Connection) -> dict[str, Any]:
    """demo's project billed to an account at 1 EUR per server-hour, with one top-up."""
    billing(cloud, "POST", "/price-lists", {"price_list": {
        "name": "hourly", "currency": "EUR", "effective_from": (T0 - 30 * 24 * HOUR).isoformat(),
        "rates": [{"metric": "instance.running", "price": "1.00"}],
    }}, expect=201)  # fmt: skip
    made = billing(cloud, "POST", "/accounts", {"account": {
        "name": "demo-co", "currency": "EUR", "price_list": "hourly", "mode": "postpaid",
    }}, expect=201)["account"]  # fmt: skip
    billing(cloud, "PUT", f"/accounts/{made['id']}/projects/{demo.current_project_id}")
    billing(cloud, "POST", "/payments", {"payment": {
        "account_id": made["id"], "amount": "25.00", "currency": "EUR", "reference": "wire-0042",
    }}, expect=201)  # fmt: skip
    return dict(made)


@pytest.fixture
def browser(cloud: InProcessCloud) -> Iterator[FormClient]:
    """demo signed in afresh: a test that moves the clock by hours outlives sessions and tokens."""
    browser = FormClient(cloud)
    response = browser.log_in("demo", cloud.password("demo"))
    assert response.status_code == 303, response.text
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def two_hours_of_a_server(
    cloud: InProcessCloud, clock: FakeClock, demo: Connection, account: dict[str, Any]
) -> str:
    server = demo.compute.wait_for_server(
        demo.compute.create_server(name="metered-vm", image_id=IMAGE_ID, flavor_id=TINY, networks="none"),
        status="ACTIVE", failures=["ERROR"], interval=INTERVAL, wait=WAIT_SECONDS,
    )  # fmt: skip

    def metered() -> bool:
        with cloud.cloud.db.reader() as session:
            found = session.scalar(select(UsageEvent.id).where(UsageEvent.resource_id == server.id))
        return found is not None

    # The host's notification carries the clock of when it is sent: move it only once it is stored.
    wait_until(metered, what="the server's creation metered")
    move_clock(cloud, clock, T0 + 2 * HOUR)
    return str(server.id)


def _cell_texts(page: str, table_id: str) -> list[str]:
    table = page.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", table, re.S)]


def test_usage_is_charted_per_metric_and_per_resource(
    browser: FormClient, two_hours_of_a_server: str
) -> None:
    response = browser.get("/billing/usage")
    assert response.status_code == 200, response.text
    assert re.search(r'id="usage-total">2(\.0+)? EUR<', response.text), response.text
    by_metric = _cell_texts(response.text, "by-metric")
    assert by_metric[0] == "instance.running" and by_metric[2] in ("2", "2.00")
    by_resource = _cell_texts(response.text, "by-resource")
    assert by_resource[0] == "instance metered-vm"  # by name: the project still has it
    assert response.text.count("<rect ") == 2  # one bar per chart, each its chart's longest


def test_usage_grows_with_the_clock(
    cloud: InProcessCloud, clock: FakeClock, browser: FormClient, two_hours_of_a_server: str
) -> None:
    move_clock(cloud, clock, T0 + 5 * HOUR)
    assert browser.get("/billing/usage").status_code == 303  # idle past the session's 30 minutes
    browser.log_in("demo", cloud.password("demo"))
    response = browser.get("/billing/usage")
    assert re.search(r'id="usage-total">5(\.0+)? EUR<', response.text), response.text


def test_an_invoice_is_listed_shown_and_downloaded_as_pdf(
    cloud: InProcessCloud, browser: FormClient, account: dict[str, Any], two_hours_of_a_server: str
) -> None:
    period = LAST_MONTH.isoformat()
    drafts = billing(
        cloud, "POST", "/invoices", {"invoices": {"period_start": period, "account_id": account["id"]}}
    )
    invoice = billing(cloud, "POST", f"/invoices/{drafts['invoices'][0]['id']}/action", {"issue": {}})[
        "invoice"
    ]
    listed = browser.get("/billing/invoices")
    assert f'/dashboard/billing/invoices/{invoice["id"]}"' in listed.text
    assert invoice["number"] in listed.text
    shown = browser.get(f"/billing/invoices/{invoice['id']}")
    assert shown.status_code == 200 and 'data-status="issued"' in shown.text
    pdf = browser.get(f"/billing/invoices/{invoice['id']}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == f'attachment; filename="{invoice["number"]}.pdf"'
    assert pdf.content.startswith(b"%PDF-")


def test_another_customers_invoice_is_not_found(cloud: InProcessCloud, browser: FormClient) -> None:
    body = {"account": {"name": "other-co", "currency": "EUR", "price_list": "hourly"}}
    other = billing(cloud, "POST", "/accounts", body, expect=201)["account"]
    period = LAST_MONTH.isoformat()
    drafts = billing(
        cloud, "POST", "/invoices", {"invoices": {"period_start": period, "account_id": other["id"]}}
    )
    foreign = drafts["invoices"][0]["id"]
    assert browser.get(f"/billing/invoices/{foreign}").status_code == 404
    assert browser.get(f"/billing/invoices/{foreign}/pdf").status_code == 404
    assert foreign not in browser.get("/billing/invoices").text


def test_the_balance_shows_the_payment_history(browser: FormClient, account: dict[str, Any]) -> None:
    response = browser.get("/billing/balance")
    assert response.status_code == 200, response.text
    assert "Balance of demo-co" in response.text
    assert "wire-0042" in response.text and "25.00 EUR" in response.text


def _downloads(page: str) -> dict[str, str]:
    """The page's data: downloads by file name, decoded."""
    found = re.findall(r'download="([^"]+)" href="data:[^;]+;base64,([^"]+)"', page)
    return {name: base64.b64decode(data).decode() for name, data in found}


def test_an_application_credential_is_shown_once_with_a_clouds_yaml_that_works(
    browser: FormClient, tmp_path: Path, two_hours_of_a_server: str
) -> None:
    browser.get("/account/credentials/")
    made = browser.post("/account/credentials/application", {"name": "ci-robot", "description": "CI"})
    assert made.status_code == 201, made.text
    assert made.headers["cache-control"] == "no-store"
    secret = re.search(r'id="credential-secret">([^<]+)<', made.text)
    assert secret is not None
    files = _downloads(made.text)
    assert set(files) == {"clouds.yaml", "ci-robot-openrc.sh"}
    clouds = yaml.safe_load(files["clouds.yaml"])["clouds"]["overcast"]
    assert clouds["auth"]["application_credential_secret"] == secret.group(1)
    assert f"export OS_APPLICATION_CREDENTIAL_SECRET='{secret.group(1)}'" in files["ci-robot-openrc.sh"]
    # openstacksdk reads the downloaded file as it is.
    (tmp_path / "clouds.yaml").write_text(files["clouds.yaml"])
    config = OpenStackConfig(config_files=[str(tmp_path / "clouds.yaml")]).get_one("overcast")
    robot = Connection(config=config)
    assert [server.id for server in robot.compute.servers()] == [two_hours_of_a_server]
    # Shown once: the list page never carries it again.
    listed = browser.get("/account/credentials/")
    assert "ci-robot" in listed.text and secret.group(1) not in listed.text


def test_an_ec2_key_is_shown_once_with_an_environment_file_boto3_uses(
    cloud: InProcessCloud, clock: FakeClock, browser: FormClient, two_hours_of_a_server: str
) -> None:
    browser.get("/account/credentials/")
    made = browser.post("/account/credentials/ec2")
    assert made.status_code == 201, made.text
    environment = dict(re.findall(r"export (\w+)='([^']*)'", _downloads(made.text)["ec2rc.sh"]))
    ec2 = boto3.client(
        "ec2",
        endpoint_url=environment["AWS_ENDPOINT_URL_EC2"],
        aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
        region_name=environment["AWS_DEFAULT_REGION"],
    )
    # SigV4 dates are checked on the cloud's clock: back to wall time (from at most 5 hours ahead).
    move_clock(cloud, clock, datetime.now(UTC))
    reservations = ec2.describe_instances()["Reservations"]
    instances = [instance for reservation in reservations for instance in reservation["Instances"]]
    assert [instance["State"]["Name"] for instance in instances] == ["running"]  # demo's one server
    browser.log_in("demo", cloud.password("demo"))  # the moved clock idled the session out
    listed = browser.get("/account/credentials/")
    assert environment["AWS_ACCESS_KEY_ID"] in listed.text
    assert environment["AWS_SECRET_ACCESS_KEY"] not in listed.text


def test_a_password_change_keeps_the_session_and_the_new_password_logs_in(
    cloud: InProcessCloud, admin: Connection
) -> None:
    user = admin.identity.create_user(name="changer", password="Old-password-1", domain_id="default")
    project = admin.identity.create_project(name="changer-project", domain_id="default")
    admin.identity.assign_project_role_to_user(project, user, admin.identity.find_role("member"))
    browser = FormClient(cloud)
    try:
        assert browser.log_in("changer", "Old-password-1").status_code == 303
        browser.get("/account")
        wrong = browser.post(
            "/account/password",
            {
                "original_password": "not-it",
                "password": "New-password-2",
                "password_confirm": "New-password-2",
            },
        )
        assert wrong.status_code == 400 and "original password is not correct" in wrong.text
        changed = browser.post(
            "/account/password",
            {
                "original_password": "Old-password-1",
                "password": "New-password-2",
                "password_confirm": "New-password-2",
            },
        )
        assert changed.status_code == 200 and "Your password is changed." in changed.text
        assert browser.get("/project/").status_code == 200  # still signed in, in the same project
    finally:
        browser.close()
    again = FormClient(cloud)
    try:
        assert again.log_in("changer", "Old-password-1").status_code == 401
        assert again.log_in("changer", "New-password-2").status_code == 303
    finally:
        again.close()


def test_forms_without_their_csrf_token_are_refused(browser: FormClient) -> None:
    browser.get("/account/credentials/")
    refused = browser.post("/account/credentials/application", {"name": "sneaky"}, csrf=False)
    assert refused.status_code == 403
    assert "sneaky" not in browser.get("/account/credentials/").text


def test_budget_alerts_are_set_by_a_member_and_refused_to_a_reader(
    cloud: InProcessCloud, browser: FormClient, account: dict[str, Any], admin: Connection, demo: Connection
) -> None:
    browser.get("/billing/alerts")
    saved = browser.post(
        "/billing/alerts",
        {"amount": "30.00", "alert_percentages": "80%, 50, 100", "email": "ops@demo.example"},
    )
    assert saved.status_code == 200 and "Your budget alerts are saved." in saved.text
    assert 'value="50, 80, 100"' in saved.text
    assert billing(cloud, "GET", f"/accounts/{account['id']}")["account"]["budget"] == "30.00"
    bad = browser.post("/billing/alerts", {"amount": "lots", "alert_percentages": "50"})
    assert bad.status_code == 400 and "Invalid budget" in bad.text
    # A reader of the project sees the budget but may not change it.
    reader = admin.identity.create_user(name="watcher", password="Watcher-pass-1", domain_id="default")
    admin.identity.assign_project_role_to_user(
        demo.current_project_id, reader, admin.identity.find_role("reader")
    )
    watcher = FormClient(cloud)
    try:
        assert watcher.log_in("watcher", "Watcher-pass-1").status_code == 303
        assert 'value="30.00"' in watcher.get("/billing/alerts").text
        refused = watcher.post("/billing/alerts", {"amount": "1.00", "alert_percentages": "10"})
        assert refused.status_code == 403
    finally:
        watcher.close()
    assert billing(cloud, "GET", f"/accounts/{account['id']}")["account"]["budget"] == "30.00"


def test_the_budget_api_takes_only_the_budget_fields(cloud: InProcessCloud, account: dict[str, Any]) -> None:
    token = project_token(cloud, "demo")
    response = httpx.put(
        f"{cloud.base_url}/billing/v1/budget",
        json={"budget": {"amount": "5.00", "credit_limit": "1000000"}},
        headers={"X-Auth-Token": token},
        timeout=30,
    )
    assert response.status_code == 400 and "credit_limit" in response.text
