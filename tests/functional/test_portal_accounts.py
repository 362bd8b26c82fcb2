"""The portal's accounts through real HTTP: an operator's plan (price list, quotas, trial credit), a
visitor's sign-up, the link read from the mail folder, verification, and the new user logging in with
openstacksdk and creating a server on the project's own network; the abuse cases (a used or expired link,
flooding from one address, an address already registered, sign-up switched off, invitation codes); password
reset; members and invitations; suspend and resume."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import openstack
import pytest
from openstack.connection import Connection

from overcast.cli.main import main
from overcast.mail import MailFolder
from overcast.network.drivers.noop import NoopDriver
from overcast.portal.provisioning import REACH_MESSAGES
from tests.functional.test_compute_networks import NetworkedCloud
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud, project_token
from tests.support.compute_api import INTERVAL, WAIT_SECONDS

PASSWORD = "correct-horse-7"
LINK = re.compile(r"\?token=([A-Za-z0-9_%-]+)")


@pytest.fixture(scope="module")
def networked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetworkedCloud]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OVERCAST_IDENTITY_PASSWORD_REGEX", r"^(?=.*\d).{8,}$")
        patch.setenv("OVERCAST_IDENTITY_PASSWORD_REGEX_DESCRIPTION", "at least 8 characters and a digit")
        # Every request comes from loopback: the per-client limit is the unit tests' (per address is here).
        patch.setenv("OVERCAST_PORTAL_ATTEMPTS_PER_CLIENT", "100")
        patch.setenv("OVERCAST_PORTAL_INVITATIONS_PER_USER", "3")
        with roomy_login_limits():
            running = NetworkedCloud(tmp_path_factory.mktemp("portal-accounts"), {"compute-1": NoopDriver()})
    yield running
    running.stop()


@pytest.fixture(scope="module")
def cloud(networked: NetworkedCloud) -> InProcessCloud:
    return networked.cloud


@pytest.fixture(scope="module")
def admin_token(cloud: InProcessCloud) -> str:
    return project_token(cloud, "admin")


@pytest.fixture(scope="module")
def mail(cloud: InProcessCloud) -> MailFolder:
    return MailFolder(cloud.data_dir / "mail")


def portal(
    cloud: InProcessCloud,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = None,
    expect: int = 200,
) -> Any:
    headers = {"X-Auth-Token": token} if token else {}
    response = httpx.request(
        method, f"{cloud.base_url}/portal/v1{path}", json=body, headers=headers, timeout=60
    )
    assert response.status_code == expect, response.text
    return response.json() if response.content else None


def last_token(mail: MailFolder, to: str, subject: str) -> str:
    mine = [stored for stored in mail.list() if to in stored.to and subject in stored.subject]
    assert mine, f"no mail {subject!r} to {to}"
    body = mail.read(mine[-1].id).get_content()
    found = LINK.search(body)
    assert found, body
    return found.group(1)


@pytest.fixture(scope="module")
def plan(cloud: InProcessCloud, admin: Connection, admin_token: str) -> dict[str, Any]:
    public = admin.network.create_network(
        name="public",
        is_router_external=True,
        is_default=True,
        provider_network_type="flat",
        provider_physical_network="public",
    )
    admin.network.create_subnet(
        network_id=public.id, cidr="203.0.113.0/24", ip_version=4, is_dhcp_enabled=False
    )
    response = httpx.post(
        f"{cloud.base_url}/billing/v1/price-lists",
        json={
            "price_list": {
                "name": "starter-prices",
                "currency": "EUR",
                "effective_from": "2020-01-01T00:00:00Z",
                "rates": [{"metric": "instance.running", "price": "0.01"}],
            }
        },
        headers={"X-Auth-Token": admin_token},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = portal(
        cloud,
        "POST",
        "/plans",
        {
            "plan": {
                "name": "starter",
                "description": "Small things",
                "price_list": "starter-prices",
                "mode": "prepaid",
                "credit_limit": "5",
                "trial_credit": "10.00",
                "default": True,
                "quotas": {
                    "instances": 3,
                    "cores": 4,
                    "ram": 4096,
                    "volumes": 2,
                    "gigabytes": 20,
                    "router": 2,
                },
            }
        },
        token=admin_token,
        expect=201,
    )["plan"]
    return created


def test_plans_are_the_operators(cloud: InProcessCloud, plan: dict[str, Any], admin_token: str) -> None:
    assert plan == {
        "name": "starter",
        "description": "Small things",
        "price_list": "starter-prices",
        "currency": "EUR",
        "mode": "prepaid",
        "credit_limit": "5",
        "trial_credit": "10.00",
        "default": True,
        "quotas": {"instances": 3, "cores": 4, "ram": 4096, "volumes": 2, "gigabytes": 20, "router": 2},
    }
    assert [p["name"] for p in portal(cloud, "GET", "/plans", token=admin_token)["plans"]] == ["starter"]
    demo = project_token(cloud, "demo")
    refused = portal(cloud, "GET", "/plans", token=demo, expect=403)
    assert set(refused["error"]) == {"code", "title", "message"}
    bad = portal(
        cloud, "POST", "/plans", {"plan": {"name": "x", "price_list": "nope"}}, token=admin_token, expect=400
    )
    assert "price_list" in bad["error"]["message"]
    unknown = portal(
        cloud,
        "POST",
        "/plans",
        {"plan": {"name": "y", "price_list": "starter-prices", "quotas": {"bogus": 1}}},
        token=admin_token,
        expect=400,
    )
    assert "bogus" in unknown["error"]["message"]
    portal(cloud, "GET", "/plans/nope", token=admin_token, expect=404)


def test_sign_up_verify_log_in_and_create_a_server(
    cloud: InProcessCloud, plan: dict[str, Any], mail: MailFolder, admin: Connection, admin_token: str
) -> None:
    weak = portal(
        cloud,
        "POST",
        "/signups",
        {"name": "Ada", "email": "ada@example.com", "password": "short"},
        expect=400,
    )
    assert weak["error"]["message"] == (
        "Password validation error: The password does not meet the requirements: "
        "at least 8 characters and a digit."
    )
    answer = portal(
        cloud,
        "POST",
        "/signups",
        {"name": "Ada Lovelace", "email": "Ada@Example.com", "password": PASSWORD},
        expect=202,
    )
    assert answer == {"signup": {"email": "ada@example.com", "status": "pending"}}
    token = last_token(mail, "ada@example.com", "Confirm your Overcast sign-up")
    assert f"{cloud.base_url}/dashboard/signup/verify?token=" in mail.read(mail.list()[-1].id).get_content()

    account = portal(cloud, "POST", "/signups/verify", {"token": token}, expect=201)["account"]
    assert account["user_name"] == "ada@example.com" and account["domain"] == "Default"
    assert account["project_name"] == "ada@example.com"
    again = portal(cloud, "POST", "/signups/verify", {"token": token}, expect=400)
    assert again["error"]["message"] == "This link has expired or was already used."

    with roomy_login_limits():
        ada = openstack.connect(
            auth_url=f"{cloud.base_url}/identity",
            username="ada@example.com",
            password=PASSWORD,
            project_name=account["project_name"],
            user_domain_name="Default",
            project_domain_name="Default",
            region_name="RegionOne",
            identity_api_version="3",
        )
        assert ada.current_project_id == account["project_id"]
        (network,) = ada.network.networks(project_id=account["project_id"])
        (router,) = ada.network.routers(project_id=account["project_id"])
        public = admin.network.find_network("public")
        assert public is not None and router.external_gateway_info["network_id"] == public.id
        server = ada.compute.wait_for_server(
            ada.compute.create_server(
                name="first", image_id=IMAGE_ID, flavor_id=TINY, networks=[{"uuid": network.id}]
            ),
            status="ACTIVE",
            failures=["ERROR"],
            interval=INTERVAL,
            wait=WAIT_SECONDS,
        )
        assert list(server.addresses) == [network.name]
        limits = ada.compute.get_limits().absolute
        assert (limits.instances, limits.total_cores, limits.total_ram) == (3, 4, 4096)
        mine = portal(cloud, "GET", "/account", token=ada.auth_token)
    assert mine["account"] == {
        "id": account["id"],
        "name": mine["account"]["name"],
        "status": "active",
        "plan": "starter",
        "email": "ada@example.com",
    }
    assert mine["user"] == {
        "id": account["user_id"],
        "name": "ada@example.com",
        "email": "ada@example.com",
        "pending_email": None,
    }
    assert mine["projects"] == [
        {
            "id": account["project_id"],
            "name": account["project_name"],
            "network": {"status": "routed", "message": REACH_MESSAGES["routed"]},
        }
    ]
    billing = httpx.get(
        f"{cloud.base_url}/billing/v1/accounts/{account['id']}",
        headers={"X-Auth-Token": admin_token},
        timeout=30,
    ).json()["account"]
    assert (billing["price_list"], billing["mode"], billing["credit_limit"]) == (
        "starter-prices",
        "prepaid",
        "5",
    )
    payments = httpx.get(
        f"{cloud.base_url}/billing/v1/payments",
        params={"account_id": account["id"]},
        headers={"X-Auth-Token": admin_token},
        timeout=30,
    ).json()["payments"]
    assert [payment["amount"] for payment in payments] == ["10.00"]


def test_a_registered_address_gets_a_mail_not_an_account(
    cloud: InProcessCloud, plan: dict[str, Any], mail: MailFolder
) -> None:
    portal(
        cloud,
        "POST",
        "/signups",
        {"name": "Someone", "email": "admin@overcast.invalid", "password": PASSWORD},
        expect=202,
    )
    before = len(mail.list())
    answer = portal(
        cloud,
        "POST",
        "/signups",
        {"name": "Ada", "email": "ada@example.com", "password": PASSWORD},
        expect=202,
    )
    assert answer == {"signup": {"email": "ada@example.com", "status": "pending"}}
    (told,) = mail.list()[before:]
    assert (
        told.subject == "Your Overcast sign-up"
        and "already has an account" in mail.read(told.id).get_content()
    )


def test_a_link_expires_and_a_resend_replaces_it(
    cloud: InProcessCloud, plan: dict[str, Any], mail: MailFolder
) -> None:
    portal(
        cloud,
        "POST",
        "/signups",
        {"name": "Bob", "email": "bob@example.com", "password": PASSWORD},
        expect=202,
    )
    first = last_token(mail, "bob@example.com", "Confirm")
    portal(cloud, "POST", "/signups/resend", {"email": "bob@example.com"}, expect=202)
    second = last_token(mail, "bob@example.com", "Confirm")
    assert first != second
    portal(cloud, "POST", "/signups/verify", {"token": first}, expect=400)  # replaced by the re-send
    clock = cloud.cloud.clock
    real = clock
    try:
        cloud.cloud.clock = lambda: real() + timedelta(hours=25)
        expired = portal(cloud, "POST", "/signups/verify", {"token": second}, expect=400)
    finally:
        cloud.cloud.clock = real
    assert expired["error"]["message"] == "This link has expired or was already used."
    portal(cloud, "POST", "/signups/verify", {"token": "not-a-token"}, expect=400)


def test_with_no_external_network_a_project_gets_a_private_network_and_says_so(
    cloud: InProcessCloud, plan: dict[str, Any], mail: MailFolder, admin: Connection, admin_token: str
) -> None:
    public = admin.network.find_network("public")
    assert public is not None
    admin.network.update_network(public, is_default=False)  # the cloud has no default external network
    try:
        portal(
            cloud, "POST", "/signups", {"name": "Nell", "email": "nell@example.com", "password": PASSWORD},
            expect=202,
        )  # fmt: skip
        token = last_token(mail, "nell@example.com", "Confirm your Overcast sign-up")
        account = portal(cloud, "POST", "/signups/verify", {"token": token}, expect=201)["account"]
    finally:
        admin.network.update_network(public, is_default=True)
    project = account["project_id"]
    (network,) = admin.network.networks(project_id=project)
    (router,) = admin.network.routers(project_id=project)
    assert (network.name, router.name, router.external_gateway_info) == ("private", "router", None)
    (interface,) = admin.network.ports(device_id=router.id)
    assert interface.network_id == network.id
    private = {"status": "private", "message": REACH_MESSAGES["private"]}
    with roomy_login_limits():
        nell = openstack.connect(
            auth_url=f"{cloud.base_url}/identity", username="nell@example.com", password=PASSWORD,
            project_name=account["project_name"], user_domain_name="Default", project_domain_name="Default",
            region_name="RegionOne", identity_api_version="3",
        )  # fmt: skip
    (shown,) = portal(cloud, "GET", "/account", token=nell.auth_token)["projects"]
    assert shown["network"] == private
    operator = portal(cloud, "GET", f"/accounts/{account['id']}", token=admin_token)["account"]
    assert operator["networks"] == {project: private}
    # Once the cloud has an external network, the customer's own router reaches it and the page says so.
    nell.network.update_router(router.id, external_gateway_info={"network_id": public.id})
    (shown,) = portal(cloud, "GET", "/account", token=nell.auth_token)["projects"]
    assert shown["network"]["status"] == "routed"


def test_sign_up_flooding_from_one_address_is_limited(cloud: InProcessCloud, plan: dict[str, Any]) -> None:
    body = {"name": "Eve", "email": "eve@example.com", "password": PASSWORD}
    for _ in range(3):
        portal(cloud, "POST", "/signups", body, expect=202)
    response = httpx.post(f"{cloud.base_url}/portal/v1/signups", json=body, timeout=30)
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["Retry-After"]) <= 3600
    assert response.json()["error"]["message"].startswith("Too many attempts; try again in ")
    portal(cloud, "POST", "/signups/resend", {"email": "eve@example.com"}, expect=202)


def test_sign_up_switch_and_invitation_codes(
    cloud: InProcessCloud, plan: dict[str, Any], admin_token: str, mail: MailFolder
) -> None:
    assert portal(cloud, "GET", "/settings") == {"signup": {"enabled": True, "invitation_only": False}}
    portal(cloud, "PUT", "/settings", {"signup": {"enabled": False}}, expect=401)
    portal(cloud, "PUT", "/settings", {"signup": {"enabled": False}}, token=admin_token)
    body = {"name": "Zed", "email": "zed@example.com", "password": PASSWORD}
    off = portal(cloud, "POST", "/signups", body, expect=403)
    assert off["error"]["message"] == "Sign-up is switched off; ask the operator for an account."
    portal(
        cloud, "PUT", "/settings", {"signup": {"enabled": True, "invitation_only": True}}, token=admin_token
    )
    portal(cloud, "POST", "/signups", body, expect=403)
    codes = portal(
        cloud, "POST", "/invitation-codes", {"count": 1, "plan": "starter"}, token=admin_token, expect=201
    )["invitation_codes"]
    wrong = portal(cloud, "POST", "/signups", {**body, "invitation_code": "AAAA-BBBB-CCCC-DDDD"}, expect=403)
    assert wrong["error"]["message"] == "This invitation code is not valid or was already used."
    portal(cloud, "POST", "/signups", {**body, "invitation_code": codes[0].lower()}, expect=202)
    last_token(mail, "zed@example.com", "Confirm")
    used = portal(
        cloud,
        "POST",
        "/signups",
        {**body, "email": "zoe@example.com", "invitation_code": codes[0]},
        expect=403,
    )
    assert "already used" in used["error"]["message"]
    portal(
        cloud, "PUT", "/settings", {"signup": {"enabled": True, "invitation_only": False}}, token=admin_token
    )


def ada(cloud: InProcessCloud, password: str = PASSWORD) -> Connection:
    with roomy_login_limits():
        return openstack.connect(
            auth_url=f"{cloud.base_url}/identity",
            username="ada@example.com",
            password=password,
            project_name="ada@example.com",
            user_domain_name="Default",
            project_domain_name="Default",
            region_name="RegionOne",
            identity_api_version="3",
        )


def test_password_reset_by_mail(cloud: InProcessCloud, plan: dict[str, Any], mail: MailFolder) -> None:
    before = len(mail.list())
    portal(cloud, "POST", "/password-resets", {"email": "nobody@example.com"}, expect=202)
    assert len(mail.list()) == before  # same answer, no mail
    portal(cloud, "POST", "/password-resets", {"email": "ada@example.com"}, expect=202)
    token = last_token(mail, "ada@example.com", "Reset your Overcast password")
    weak = portal(cloud, "POST", "/password-resets/confirm", {"token": token, "password": "weak"}, expect=400)
    assert "does not meet the requirements" in weak["error"]["message"]
    portal(cloud, "POST", "/password-resets/confirm", {"token": token, "password": "new-horse-8"}, expect=204)
    portal(cloud, "POST", "/password-resets/confirm", {"token": token, "password": "new-horse-9"}, expect=400)
    assert ada(cloud, "new-horse-8").current_project_id is not None


def test_members_invitations_and_profile(
    cloud: InProcessCloud, plan: dict[str, Any], mail: MailFolder, admin_token: str
) -> None:
    owner = ada(cloud, "new-horse-8")
    token, project = owner.auth_token, owner.current_project_id
    (member,) = portal(cloud, "GET", f"/projects/{project}/members", token=token)["members"]
    assert (member["user_name"], member["email"], member["roles"]) == (
        "ada@example.com",
        "ada@example.com",
        ["member", "reader"],
    )
    portal(cloud, "GET", f"/projects/{project}/members", token=project_token(cloud, "demo"), expect=404)
    portal(
        cloud,
        "POST",
        f"/projects/{project}/invitations",
        {"email": "cy@example.com", "role": "admin"},
        token=token,
        expect=400,
    )
    portal(
        cloud,
        "POST",
        f"/projects/{project}/invitations",
        {"email": "cy@example.com", "role": "reader"},
        token=token,
        expect=202,
    )
    invitation = last_token(mail, "cy@example.com", "invites you")
    accepted = portal(
        cloud,
        "POST",
        "/invitations/accept",
        {"token": invitation, "name": "Cy", "password": "cy-horse-42"},
        expect=201,
    )
    assert accepted == {
        "invitation": {"project_id": project, "role": "reader", "user_name": "cy@example.com"}
    }
    roles = {
        m["user_name"]: m["roles"]
        for m in portal(cloud, "GET", f"/projects/{project}/members", token=token)["members"]
    }
    assert roles["cy@example.com"] == ["reader"]
    portal(cloud, "POST", "/invitations/accept", {"token": invitation, "password": "x"}, expect=400)
    # Each invitation mails an address of the inviter's choosing: counted per inviter (3 an hour here).
    for invited, expect in (("dee@example.com", 202), ("eli@example.com", 202), ("flo@example.com", 429)):
        body = {"email": invited, "role": "reader"}
        portal(cloud, "POST", f"/projects/{project}/invitations", body, token=token, expect=expect)
    # The profile's name is the account's: the login stays the address the user signed up with.
    renamed = portal(cloud, "PATCH", "/account/profile", {"name": "Analytical Engines"}, token=token)
    assert renamed["user"]["name"] == "ada@example.com"
    assert portal(cloud, "GET", "/account", token=token)["account"]["name"] == "Analytical Engines"
    other = {"account": {"name": "Difference Engines", "currency": "EUR", "price_list": "starter-prices"}}
    made = httpx.post(
        f"{cloud.base_url}/billing/v1/accounts",
        json=other,
        headers={"X-Auth-Token": admin_token},
        timeout=WAIT_SECONDS,
    )
    assert made.status_code == 201, made.text
    taken = portal(
        cloud, "PATCH", "/account/profile", {"name": "Difference Engines"}, token=token, expect=409
    )
    assert (
        taken["error"]["message"]
        == "An account named Difference Engines exists already; choose another name."
    )


def _change_address(cloud: InProcessCloud, mail: MailFolder, token: str, new: str) -> dict[str, Any]:
    asked = portal(cloud, "PATCH", "/account/profile", {"email": new}, token=token)
    assert asked["email_change"] == {"email": new, "status": "pending"}
    link = last_token(mail, new, "Confirm your new Overcast address")
    confirmed: dict[str, Any] = portal(cloud, "POST", "/account/email/confirm", {"token": link})["user"]
    portal(cloud, "POST", "/account/email/confirm", {"token": link}, expect=400)  # single use
    return confirmed


def test_an_address_change_waits_for_the_new_address_and_the_login_follows(
    cloud: InProcessCloud, plan: dict[str, Any], mail: MailFolder
) -> None:
    owner = ada(cloud, "new-horse-8")
    token = owner.auth_token
    before = portal(cloud, "GET", "/account", token=token)["user"]
    same = portal(cloud, "PATCH", "/account/profile", {"email": "ada@example.com"}, token=token)
    assert same == {"user": before}  # a form sending the address back unchanged asks for nothing
    asked = portal(cloud, "PATCH", "/account/profile", {"email": "Ada@Lovelace.example"}, token=token)
    # Nothing changes until the new address answers; the old one is told at once.
    assert asked == {
        "email_change": {"email": "ada@lovelace.example", "status": "pending"},
        "user": {**before, "pending_email": "ada@lovelace.example"},
    }
    assert portal(cloud, "GET", "/account", token=token)["user"] == asked["user"]
    notices = [m for m in mail.list() if "ada@example.com" in m.to and "about to change" in m.subject]
    assert "ada@lovelace.example" in mail.read(notices[-1].id).get_content()
    first = last_token(mail, "ada@lovelace.example", "Confirm your new Overcast address")

    # An expired link changes nothing; a new request replaces the earlier link.
    real = cloud.cloud.clock
    try:
        cloud.cloud.clock = lambda: real() + timedelta(hours=25)
        expired = portal(cloud, "POST", "/account/email/confirm", {"token": first}, expect=400)
    finally:
        cloud.cloud.clock = real
    assert expired["error"]["message"] == "This link has expired or was already used."
    taken = portal(cloud, "PATCH", "/account/profile", {"email": "cy@example.com"}, token=token, expect=409)
    assert taken["error"]["message"] == "cy@example.com is another user's login; choose another address."

    moved = _change_address(cloud, mail, token, "ada@lovelace.example")
    portal(cloud, "POST", "/account/email/confirm", {"token": first}, expect=400)  # replaced
    # The login was the old address, so it follows: the same user (id, roles, token) logs in by the new one.
    assert moved == {"id": before["id"], "name": "ada@lovelace.example", "email": "ada@lovelace.example"}
    assert portal(cloud, "GET", "/account", token=token)["user"]["pending_email"] is None
    assert portal(cloud, "GET", "/account", token=token)["account"]["email"] == "ada@lovelace.example"
    with roomy_login_limits():
        again = openstack.connect(
            auth_url=f"{cloud.base_url}/identity", username="ada@lovelace.example", password="new-horse-8",
            project_name="ada@example.com", user_domain_name="Default", project_domain_name="Default",
            region_name="RegionOne", identity_api_version="3",
        )  # fmt: skip
        assert again.current_user_id == before["id"]
    # Password reset finds the user by the new address, not the old.
    before_resets = len(mail.list())
    portal(cloud, "POST", "/password-resets", {"email": "ada@example.com"}, expect=202)
    assert len(mail.list()) == before_resets
    # Back, so the tests below log in as before.
    assert _change_address(cloud, mail, token, "ada@example.com")["name"] == "ada@example.com"
    # Each request mails an address of the user's choosing: counted per user (3 within the hour here).
    flood = portal(cloud, "PATCH", "/account/profile", {"email": "x@example.net"}, token=token, expect=429)
    assert flood["error"]["message"].startswith("Too many attempts; try again in ")


def test_suspend_stops_servers_and_logins_and_resume_undoes_only_that(
    cloud: InProcessCloud, plan: dict[str, Any], admin_token: str, admin: Connection
) -> None:
    owner = ada(cloud, "new-horse-8")
    mine = portal(cloud, "GET", "/account", token=owner.auth_token)["account"]
    (server,) = owner.compute.servers()
    found = admin.identity.find_user("cy@example.com")
    assert found is not None
    cy = str(found.id)
    admin.identity.update_user(cy, is_enabled=False)  # the operator's own choice: resume keeps it
    suspended = portal(
        cloud, "POST", f"/accounts/{mine['id']}/action", {"suspend": {"reason": "unpaid"}}, token=admin_token
    )["account"]
    assert (suspended["status"], suspended["suspend_reason"]) == ("suspended", "unpaid")
    portal(cloud, "POST", f"/accounts/{mine['id']}/action", {"suspend": {}}, token=admin_token, expect=409)
    assert (
        admin.compute.wait_for_server(
            admin.compute.get_server(server.id), status="SHUTOFF", interval=INTERVAL, wait=WAIT_SECONDS
        ).status
        == "SHUTOFF"
    )
    with pytest.raises(openstack.exceptions.SDKException, match="HTTP 401"):
        ada(cloud, "new-horse-8").authorize()
    listed = portal(cloud, "GET", "/accounts?status=suspended", token=admin_token)["accounts"]
    assert [account["id"] for account in listed] == [mine["id"]]
    resumed = portal(cloud, "POST", f"/accounts/{mine['id']}/action", {"resume": None}, token=admin_token)
    assert resumed["account"]["status"] == "active"
    assert ada(cloud, "new-horse-8").authorize()
    assert admin.identity.get_user(cy).is_enabled is False
    assert admin.compute.get_server(server.id).status == "SHUTOFF"  # never started for the customer


def test_the_operator_commands(
    cloud: InProcessCloud, plan: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--data-dir", str(cloud.data_dir), "--listen", cloud.settings.listen]

    def overcast(*words: str) -> Any:
        assert main(["manage", *words, *where]) == 0, capsys.readouterr().err
        return json.loads(capsys.readouterr().out)

    made = overcast(
        "plan",
        "create",
        "pro",
        "--price-list",
        "starter-prices",
        "--quota",
        "instances=20",
        "--trial-credit",
        "none",
        "--no-default",
    )["plan"]
    assert (made["quotas"], made["trial_credit"], made["default"], made["currency"]) == (
        {"instances": 20},
        None,
        False,
        "EUR",
    )
    assert overcast("plan", "set", "pro", "--credit-limit", "50")["plan"]["credit_limit"] == "50"
    assert [p["name"] for p in overcast("plan", "list")["plans"]] == ["pro", "starter"]
    assert overcast("plan", "delete", "pro") == {}
    assert main(["manage", "plan", "show", "pro", *where]) == 1
    assert "Plan pro could not be found." in capsys.readouterr().err
    assert overcast("signup", "settings")["signup"] == {"enabled": True, "invitation_only": False}
    assert overcast("signup", "settings", "--invitation-only")["signup"]["invitation_only"] is True
    overcast("signup", "settings", "--no-invitation-only")
    codes = overcast("signup", "codes", "--count", "2", "--plan", "starter")["invitation_codes"]
    assert len(set(codes)) == 2 and all(re.fullmatch(r"[A-Z2-9]{4}(-[A-Z2-9]{4}){3}", code) for code in codes)
    (account,) = [a for a in overcast("account", "list")["accounts"] if a["email"] == "ada@example.com"]
    assert (
        overcast("account", "suspend", account["id"], "--reason", "cli")["account"]["status"] == "suspended"
    )
    assert overcast("account", "resume", account["id"])["account"]["status"] == "active"


def test_a_failed_provisioning_undoes_itself_and_keeps_the_link(
    cloud: InProcessCloud, plan: dict[str, Any], admin_token: str, admin: Connection, mail: MailFolder
) -> None:
    portal(
        cloud,
        "POST",
        "/plans",
        {"plan": {"name": "no-routers", "price_list": "starter-prices", "quotas": {"router": 0}}},
        token=admin_token,
        expect=201,
    )
    portal(
        cloud,
        "POST",
        "/signups",
        {"name": "Dan", "email": "dan@example.com", "password": PASSWORD, "plan": "no-routers"},
        expect=202,
    )
    token = last_token(mail, "dan@example.com", "Confirm")
    accounts_before = portal(cloud, "GET", "/accounts", token=admin_token)["accounts"]
    private_before = len(list(admin.network.networks(name="private")))
    public = admin.network.find_network("public")
    assert public is not None
    admin.network.update_network(public, is_default=False)  # the private-network path fails and undoes too
    try:
        failed = portal(cloud, "POST", "/signups/verify", {"token": token}, expect=409)
    finally:
        admin.network.update_network(public, is_default=True)
    assert "router" in failed["error"]["message"].lower()
    assert len(list(admin.network.networks(name="private"))) == private_before
    failed = portal(cloud, "POST", "/signups/verify", {"token": token}, expect=409)  # get-me-a-network's
    assert "router" in failed["error"]["message"].lower()
    assert admin.identity.find_user("dan@example.com") is None
    assert admin.identity.find_project("dan@example.com") is None
    assert portal(cloud, "GET", "/accounts", token=admin_token)["accounts"] == accounts_before
    portal(cloud, "PATCH", "/plans/no-routers", {"plan": {"quotas": {"router": 1}}}, token=admin_token)
    account = portal(cloud, "POST", "/signups/verify", {"token": token}, expect=201)["account"]
    assert account["user_name"] == "dan@example.com"
