"""The portal's mail through a real SMTP relay (aiosmtpd on loopback): while the relay is down a sign-up
still answers 202 and its mail waits in the outbox; once the relay is up, the portal service's retry hands
it over, and the link it carries verifies the sign-up."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from email.message import EmailMessage

import httpx
import pytest

from overcast.context import RequestContext
from overcast.portal.manager import PortalManager
from overcast.portal.rpcapi import PortalServiceAPI
from overcast.service import Service
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud, project_token
from tests.support.ports import free_port
from tests.support.smtp import smtp_inbox
from tests.support.waiting import WAIT_SECONDS


@pytest.fixture(scope="module")
def relay_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, relay_port: int) -> Iterator[InProcessCloud]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERCAST_MAIL_SMTP_HOST", "127.0.0.1")
        patch.setenv("OVERCAST_MAIL_SMTP_PORT", str(relay_port))
        patch.setenv("OVERCAST_MAIL_SENDER", "portal@cloud.example")
        patch.setenv("OVERCAST_MAIL_TIMEOUT", str(WAIT_SECONDS))  # the retry sends for real
        with roomy_login_limits():
            running = InProcessCloud(tmp_path_factory.mktemp("portal-mail"))
        service = Service(running.cloud, PortalManager(running.cloud, "portal-1"))
        service.start()
        running.services.append(service)
    yield running
    running.stop()


def test_a_mail_the_relay_refused_is_sent_by_the_retry(cloud: InProcessCloud, relay_port: int) -> None:
    admin = project_token(cloud, "admin")
    headers = {"X-Auth-Token": admin}
    price_list = {
        "price_list": {
            "name": "p",
            "currency": "EUR",
            "rates": [{"metric": "instance.running", "price": "1"}],
        }
    }
    assert (
        httpx.post(
            f"{cloud.base_url}/billing/v1/price-lists", json=price_list, headers=headers, timeout=WAIT_SECONDS
        ).status_code
        == 201
    )
    plan = {"plan": {"name": "basic", "price_list": "p", "default": True}}
    assert (
        httpx.post(
            f"{cloud.base_url}/portal/v1/plans", json=plan, headers=headers, timeout=WAIT_SECONDS
        ).status_code
        == 201
    )

    body = {"name": "Ada", "email": "ada@example.com", "password": "correct-horse-7"}
    answer = httpx.post(f"{cloud.base_url}/portal/v1/signups", json=body, timeout=60)
    assert answer.status_code == 202, answer.text  # the relay is down: the sign-up stands, the mail waits

    with smtp_inbox(relay_port) as (inbox, _):
        cloud.cloud.clock = _later(cloud.cloud.clock, seconds=61)
        assert PortalServiceAPI(cloud.cloud.transport).run_now(RequestContext.admin())["mails_sent"] == 1
    (mail,) = inbox.messages
    assert (mail["To"], mail["From"], mail["Subject"]) == (
        "ada@example.com",
        "portal@cloud.example",
        "Confirm your Overcast sign-up",
    )
    content = mail.get_body(("plain",))
    assert isinstance(content, EmailMessage)
    found = re.search(r"/dashboard/signup/verify\?token=([A-Za-z0-9_%-]+)", content.get_content())
    assert found
    verified = httpx.post(
        f"{cloud.base_url}/portal/v1/signups/verify", json={"token": found.group(1)}, timeout=60
    )
    assert verified.status_code == 201, verified.text
    assert verified.json()["account"]["user_name"] == "ada@example.com"


def _later(clock: Callable[[], datetime], *, seconds: int) -> Callable[[], datetime]:
    return lambda: clock() + timedelta(seconds=seconds)
