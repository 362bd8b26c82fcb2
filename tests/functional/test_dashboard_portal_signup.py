"""The portal's public pages and the operator's pages over real HTTP, as a browser without JavaScript
meets them: an operator opens sign-up with a plan; a visitor signs up, follows the link from the mail the
cloud wrote to its mail folder, logs in; a reused link, an invitation-only sign-up, a password reset, an
invitation accepted by a new user, a changed e-mail address confirmed through its mailed link, and a
suspended account that can no longer log in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from openstack.connection import Connection

from overcast.mail import MailFolder
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud, project_token
from tests.support.dashboard import FormClient
from tests.support.waiting import wait_until

PASSWORD = "Sign-up-password-7"
LINK = re.compile(
    r"https?://\S+/dashboard/(?:signup/verify|password/reset|invitation|account/email/confirm)\?token=[^\s\"<>]+"
)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    with roomy_login_limits(), pytest.MonkeyPatch.context() as env:
        # Enough sign-ups from this one client address for the module's visitors.
        env.setenv("OVERCAST_PORTAL_ATTEMPTS_PER_CLIENT", "50")
        running = InProcessCloud(tmp_path_factory.mktemp("dashboard-portal-signup"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def operator(cloud: InProcessCloud) -> Iterator[FormClient]:
    """The admin in the dashboard, having made the `starter` plan and opened sign-up."""
    token = project_token(cloud, "admin")
    made = httpx.post(
        f"{cloud.base_url}/billing/v1/price-lists",
        json={
            "price_list": {
                "name": "standard",
                "currency": "EUR",
                "rates": [{"metric": "instance.running", "price": "0.10"}],
            }
        },
        headers={"X-Auth-Token": token},
        timeout=30,
    )
    assert made.status_code == 201, made.text
    browser = FormClient(cloud)
    assert browser.log_in("admin", cloud.password("admin")).status_code == 303
    browser.get("/admin/plans")
    created = browser.post("/admin/plans", {
        "name": "starter", "description": "For trying it out", "quota_instances": "2", "quota_cores": "4",
        "quota_ram": "4096", "price_list": "standard", "mode": "postpaid", "credit_limit": "50.00",
        "trial_credit": "10.00", "currency": "EUR", "default": "on",
    })  # fmt: skip
    assert created.status_code == 303, created.text
    browser.get("/admin/signup")
    assert browser.post("/admin/signup", {"enabled": "on"}).status_code == 303
    yield browser
    browser.close()


def mails_to(cloud: InProcessCloud, address: str) -> list[EmailMessage]:
    folder = MailFolder(cloud.data_dir / "mail", "overcast@localhost")
    return [folder.read(stored.id) for stored in folder.list() if address in stored.to]


def link_in_mail(cloud: InProcessCloud, address: str, count: int = 1) -> str:
    """The dashboard link in the newest of `address`'s mails, once it has `count` of them."""
    wait_until(lambda: len(mails_to(cloud, address)) >= count, what=f"mail number {count} to {address}")
    body = mails_to(cloud, address)[-1].get_body(("plain",))
    assert body is not None
    found = LINK.search(body.get_content())
    assert found, body.get_content()
    return found.group(0)


def open_link(browser: FormClient, link: str) -> httpx.Response:
    """The mailed link opened in the browser (its path below /dashboard, its query as it is)."""
    path, _, query = link.split("/dashboard", 1)[1].partition("?")
    return browser.get(path, **dict(parse_qsl(query)))


def sign_up(browser: FormClient, name: str, email: str, **extra: str) -> httpx.Response:
    browser.get("/signup")
    form = {"name": name, "email": email, "password": PASSWORD, "password_confirm": PASSWORD, **extra}
    return browser.post("/signup", form)


def verify(browser: FormClient, link: str) -> httpx.Response:
    page = open_link(browser, link)
    assert page.status_code == 200, page.text
    token = re.search(r'name="token" value="([^"]+)"', page.text)
    assert token, page.text
    return browser.post("/signup/verify", {"token": token.group(1)})


@pytest.fixture(scope="module")
def ada(cloud: InProcessCloud, operator: FormClient) -> dict[str, Any]:
    """A visitor signed up and verified through the pages."""
    visitor = FormClient(cloud)
    try:
        sent = sign_up(visitor, "Ada Lovelace", "ada@example.com")
        assert sent.status_code == 200, sent.text
        assert "We sent a link to ada@example.com" in sent.text
        link = link_in_mail(cloud, "ada@example.com")
        ready = verify(visitor, link)
        assert ready.status_code == 200, ready.text
        assert "Your account is ready" in ready.text
        return {"link": link, "user": "ada@example.com"}
    finally:
        visitor.close()


def test_the_log_in_page_links_to_sign_up_and_the_password_reset(cloud: InProcessCloud) -> None:
    browser = FormClient(cloud)
    try:
        page = browser.get("/login").text
        assert 'href="/dashboard/signup"' in page and 'href="/dashboard/password/forgot"' in page
    finally:
        browser.close()


def test_a_visitor_signs_up_verifies_and_logs_in(cloud: InProcessCloud, ada: dict[str, Any]) -> None:
    customer = FormClient(cloud)
    try:
        assert customer.log_in(ada["user"], PASSWORD).status_code == 303
        account = customer.get("/account")
        assert account.status_code == 200, account.text
        assert 'data-status="active"' in account.text and "starter" in account.text
        balance = customer.get("/billing/balance")
        assert balance.status_code == 200 and "10.00 EUR" in balance.text  # the plan's trial credit
    finally:
        customer.close()


def test_a_verification_link_works_once(cloud: InProcessCloud, ada: dict[str, Any]) -> None:
    browser = FormClient(cloud)
    try:
        again = verify(browser, ada["link"])
        assert again.status_code == 400
        assert "This link has expired or was already used." in again.text
    finally:
        browser.close()


def test_a_public_form_without_its_csrf_token_is_refused(cloud: InProcessCloud, operator: FormClient) -> None:
    browser = FormClient(cloud)
    try:
        browser.get("/signup")
        refused = browser.post(
            "/signup",
            {"name": "Eve", "email": "eve@example.com", "password": PASSWORD, "password_confirm": PASSWORD},
            csrf=False,
        )
        assert refused.status_code == 403
        assert mails_to(cloud, "eve@example.com") == []
    finally:
        browser.close()


def test_mismatched_passwords_are_refused_before_the_api(cloud: InProcessCloud, operator: FormClient) -> None:
    browser = FormClient(cloud)
    try:
        browser.get("/signup")
        refused = browser.post(
            "/signup",
            {"name": "Bo", "email": "bo@example.com", "password": PASSWORD, "password_confirm": "other"},
        )
        assert refused.status_code == 400 and "The two passwords differ." in refused.text
        assert 'value="bo@example.com"' in refused.text  # what was typed stays
    finally:
        browser.close()


def test_invitation_only_sign_up_takes_a_code_the_operator_made(
    cloud: InProcessCloud, operator: FormClient
) -> None:
    operator.get("/admin/signup")
    assert operator.post("/admin/signup", {"enabled": "on", "invitation_only": "on"}).status_code == 303
    operator.get("/admin/signup")
    made = operator.post("/admin/signup/codes", {"count": "1", "plan": "starter"})
    assert made.status_code == 201, made.text
    code = re.search(r'id="invitation-codes"><li><code>([^<]+)</code>', made.text)
    assert code, made.text
    visitor = FormClient(cloud)
    try:
        page = visitor.get("/signup").text
        assert "needs an invitation code" in page and 'name="invitation_code"' in page
        refused = sign_up(visitor, "Cy", "cy@example.com")
        assert refused.status_code == 403, refused.text
        accepted = sign_up(visitor, "Cy", "cy@example.com", invitation_code=code.group(1))
        assert accepted.status_code == 200, accepted.text
        assert verify(visitor, link_in_mail(cloud, "cy@example.com")).status_code == 200
    finally:
        visitor.close()
        operator.get("/admin/signup")
        operator.post("/admin/signup", {"enabled": "on"})


def test_sign_up_switched_off_says_so(cloud: InProcessCloud, operator: FormClient) -> None:
    operator.get("/admin/signup")
    assert operator.post("/admin/signup", {}).status_code == 303
    visitor = FormClient(cloud)
    try:
        page = visitor.get("/signup")
        assert (
            "Sign-up is closed on this cloud." in page.text and 'action="/dashboard/signup"' not in page.text
        )
    finally:
        visitor.close()
        operator.get("/admin/signup")
        operator.post("/admin/signup", {"enabled": "on"})


def test_a_forgotten_password_is_reset_through_the_mailed_link(
    cloud: InProcessCloud, ada: dict[str, Any]
) -> None:
    browser = FormClient(cloud)
    try:
        browser.get("/password/forgot")
        sent = browser.post("/password/forgot", {"email": "ada@example.com"})
        assert sent.status_code == 200 and "If ada@example.com belongs to an account" in sent.text
        link = link_in_mail(cloud, "ada@example.com", count=2)
        assert "/password/reset?token=" in link
        open_link(browser, link)
        new_password = "Reset-password-8"
        token = re.search(r"token=([^\s&]+)", link)
        assert token
        changed = browser.post(
            "/password/reset",
            {"token": token.group(1), "password": new_password, "password_confirm": new_password},
        )
        assert changed.status_code == 200 and "Your password is changed." in changed.text
        assert browser.log_in("ada@example.com", new_password).status_code == 303
    finally:
        browser.close()
    # Unknown addresses get the same answer, and no mail.
    stranger = FormClient(cloud)
    try:
        stranger.get("/password/forgot")
        same = stranger.post("/password/forgot", {"email": "nobody@example.com"})
        assert same.status_code == 200 and "If nobody@example.com belongs to an account" in same.text
        assert mails_to(cloud, "nobody@example.com") == []
    finally:
        stranger.close()


def test_a_colleague_invited_by_mail_joins_the_project(cloud: InProcessCloud, operator: FormClient) -> None:
    owner = FormClient(cloud)
    try:
        sign_up(owner, "Grace", "grace@example.com")
        verify(owner, link_in_mail(cloud, "grace@example.com"))
        assert owner.log_in("grace@example.com", PASSWORD).status_code == 303
        members = owner.get("/account/members")
        assert members.status_code == 200 and "grace@example.com" in members.text
        invited = owner.post("/account/members/invite", {"email": "linus@example.com", "role": "reader"})
        assert invited.status_code == 200 and "We sent linus@example.com an invitation" in invited.text
        refused = owner.post("/account/members/invite", {"email": "x@example.com", "role": "admin"})
        assert refused.status_code == 400, refused.text
    finally:
        owner.close()
    newcomer = FormClient(cloud)
    try:
        link = link_in_mail(cloud, "linus@example.com")
        assert "/invitation?token=" in link
        open_link(newcomer, link)
        token = re.search(r'name="token" value="([^"]+)"', newcomer.page)
        assert token
        joined = newcomer.post("/invitation", {
            "token": token.group(1), "name": "Linus", "password": PASSWORD, "password_confirm": PASSWORD,
        })  # fmt: skip
        assert joined.status_code == 200, joined.text
        assert "You are now a reader of the project" in joined.text
        assert newcomer.log_in("linus@example.com", PASSWORD).status_code == 303
    finally:
        newcomer.close()


def test_the_operator_edits_a_plan(operator: FormClient) -> None:
    operator.get("/admin/plans/starter")
    saved = operator.post("/admin/plans/starter", {
        "description": "Bigger", "quota_instances": "5", "mode": "postpaid", "currency": "EUR",
        "price_list": "standard", "default": "on",
    })  # fmt: skip
    assert saved.status_code == 303, saved.text
    page = operator.get("/admin/plans/starter").text
    assert 'value="Bigger"' in page and 'name="quota_instances" inputmode="numeric" value="5"' in page
    bad = operator.post("/admin/plans/starter", {"quota_cores": "many"})
    assert bad.status_code == 400 and "vCPUs must be a whole number" in bad.text


def test_a_suspended_account_cannot_log_in_until_resumed(
    cloud: InProcessCloud, operator: FormClient, ada: dict[str, Any], admin: Connection
) -> None:
    listed = operator.get("/admin/accounts", status="active").text
    row = re.search(r'<tr data-status="active">\s*<td>([^<]*)</td><td>ada@example.com</td>', listed)
    assert row, listed
    account_id = re.search(
        r'action="/dashboard/admin/accounts/([^/]+)/suspend"', listed[listed.index("ada@example.com") :]
    )
    assert account_id
    suspended = operator.post(f"/admin/accounts/{account_id.group(1)}/suspend", {"reason": "Unpaid"})
    assert suspended.status_code == 303
    assert "suspended: Unpaid" in operator.get("/admin/accounts", status="suspended").text
    customer = FormClient(cloud)
    try:
        assert customer.log_in("ada@example.com", "Reset-password-8").status_code == 401
        operator.get("/admin/accounts")
        assert operator.post(f"/admin/accounts/{account_id.group(1)}/resume").status_code == 303
        assert customer.log_in("ada@example.com", "Reset-password-8").status_code == 303
    finally:
        customer.close()


def test_customers_pages_are_refused_to_a_customer(cloud: InProcessCloud, ada: dict[str, Any]) -> None:
    customer = FormClient(cloud)
    try:
        customer.log_in("ada@example.com", "Reset-password-8")
        assert customer.get("/admin/plans").status_code == 403
        assert customer.get("/admin/accounts").status_code == 403
    finally:
        customer.close()


def test_sign_up_flooding_from_one_address_is_told_when_to_try_again(
    cloud: InProcessCloud, operator: FormClient
) -> None:
    visitor = FormClient(cloud)
    try:
        answers = [sign_up(visitor, "Flood", "flood@example.com") for _ in range(4)]
        assert [answer.status_code for answer in answers] == [200, 200, 200, 429]
        assert re.search(r"Try again in \d+ seconds\.", answers[-1].text), answers[-1].text
        assert 'value="flood@example.com"' in answers[-1].text  # the form keeps what was typed
    finally:
        visitor.close()


def test_a_lost_link_is_sent_again(cloud: InProcessCloud, operator: FormClient) -> None:
    visitor = FormClient(cloud)
    try:
        sign_up(visitor, "Hedy", "hedy@example.com")
        first = link_in_mail(cloud, "hedy@example.com")
        again = visitor.post("/signup/resend", {"email": "hedy@example.com"})
        assert again.status_code == 200 and "we sent it a new link" in again.text
        # Nobody waiting: the same answer, and no mail.
        visitor.post("/signup/resend", {"email": "ghost@example.com"})
        assert "If a sign-up for ghost@example.com is waiting" in visitor.page
        second = link_in_mail(cloud, "hedy@example.com", count=2)
        assert second != first
        assert verify(visitor, second).status_code == 200
        assert mails_to(cloud, "ghost@example.com") == []
    finally:
        visitor.close()


def test_a_changed_address_is_confirmed_through_the_mailed_link_and_becomes_the_login(
    cloud: InProcessCloud, operator: FormClient
) -> None:
    customer = FormClient(cloud)
    try:
        sign_up(customer, "Kat", "kat@example.com")
        assert verify(customer, link_in_mail(cloud, "kat@example.com")).status_code == 200
        assert customer.log_in("kat@example.com", PASSWORD).status_code == 303
        customer.get("/account")
        saved = customer.post("/account/profile", {"email": "katherine@example.com"})
        assert saved.status_code == 200, saved.text
        assert "We sent a link to katherine@example.com" in saved.text
        assert 'id="pending-email">katherine@example.com:' in saved.text
        link = link_in_mail(cloud, "katherine@example.com")
        assert "/account/email/confirm?token=" in link
    except BaseException:
        customer.close()
        raise
    # Opened in another browser without a session, as from the new mailbox: the page only offers a button,
    # so a mail scanner fetching the link twice leaves it usable.
    visitor = FormClient(cloud)
    try:
        for _ in range(2):
            page = open_link(visitor, link)
            assert page.status_code == 200 and "Confirm my new address" in page.text, page.text
        token = re.search(r'name="token" value="([^"]+)"', visitor.page)
        assert token, visitor.page
        assert (
            visitor.post("/account/email/confirm", {"token": token.group(1)}, csrf=False).status_code == 403
        )
        assert visitor.log_in("kat@example.com", PASSWORD).status_code == 303  # not changed yet
        open_link(visitor, link)
        confirmed = visitor.post("/account/email/confirm", {"token": token.group(1)})
        assert confirmed.status_code == 200, confirmed.text
        assert "Log in as katherine@example.com" in confirmed.text
        assert 'href="/dashboard/login"' in confirmed.text
        open_link(visitor, link)  # the used link opened again
        again = visitor.post("/account/email/confirm", {"token": token.group(1)})
        assert again.status_code == 400 and "This link has expired or was already used." in again.text
    finally:
        visitor.close()
    moved = FormClient(cloud)
    try:
        assert moved.log_in("kat@example.com", PASSWORD).status_code == 401
        assert moved.log_in("katherine@example.com", PASSWORD).status_code == 303
        account = moved.get("/account").text
        assert 'value="katherine@example.com"' in account and 'id="pending-email"' not in account
    finally:
        moved.close()
    # The session signed in before the change carries on, and a password change there (which signs it in
    # again under a fresh token) logs in with the new name.
    try:
        customer.get("/account")
        new_password = "Moved-password-9"
        changed = customer.post("/account/password", {
            "original_password": PASSWORD, "password": new_password, "password_confirm": new_password,
        })  # fmt: skip
        assert changed.status_code == 200 and "Your password is changed." in changed.text, changed.text
        assert 'value="katherine@example.com"' in customer.get("/account").text
    finally:
        customer.close()


def test_confirming_an_address_someone_took_as_their_login_meanwhile_shows_the_refusal(
    cloud: InProcessCloud, operator: FormClient
) -> None:
    customer = FormClient(cloud)
    try:
        sign_up(customer, "Lou", "lou@example.com")
        assert verify(customer, link_in_mail(cloud, "lou@example.com")).status_code == 200
        assert customer.log_in("lou@example.com", PASSWORD).status_code == 303
        customer.get("/account")
        assert customer.post("/account/profile", {"email": "zed@example.com"}).status_code == 200
        link = link_in_mail(cloud, "zed@example.com")
    finally:
        customer.close()
    # Before Lou confirms, a visitor signs up with that address: it is now their login.
    rival = FormClient(cloud)
    try:
        sign_up(rival, "Zed", "zed@example.com")
        assert verify(rival, link_in_mail(cloud, "zed@example.com", count=2)).status_code == 200
        open_link(rival, link)
        token = re.search(r'name="token" value="([^"]+)"', rival.page)
        assert token, rival.page
        refused = rival.post("/account/email/confirm", {"token": token.group(1)})
        assert refused.status_code == 409, refused.text
        # The identity service's own words, as the API passed them on.
        assert "Duplicate entry: a user named zed@example.com exists in the domain." in refused.text
        assert "your account page" in refused.text
        assert rival.log_in("lou@example.com", PASSWORD).status_code == 303  # Lou's login is unchanged
    finally:
        rival.close()
