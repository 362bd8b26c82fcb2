"""Support tickets end to end over real HTTP (#20): two customers in their own billing accounts and a
support user, through /portal/v1/tickets and through the dashboard's pages as a browser without
JavaScript meets them. Another account's ticket is a 404 everywhere, internal notes never reach the
customer, each reply is mailed to the other side (the cloud's mail folder), an attachment past the limit
is a 413, and HTML in a ticket is shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

import httpx
import pytest

from overcast.bus import NotificationListener
from overcast.context import RequestContext
from overcast.mail import MailFolder
from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud, project_token
from tests.support.dashboard import FormClient
from tests.support.waiting import wait_until

PASSWORD = "Correct-Horse-42-battery"
LIMIT = 4096  # bytes an attachment may be in this module's cloud
PORTAL = "/portal/v1"


@dataclass(frozen=True)
class Person:
    name: str
    user_id: str
    project_id: str
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Auth-Token": self.token}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    with pytest.MonkeyPatch.context() as patch, roomy_login_limits():
        patch.setenv("OVERCAST_PORTAL_TICKETS_ATTACHMENT_MAX_BYTES", str(LIMIT))
        patch.setenv("OVERCAST_PORTAL_TICKETS_SUPPORT_ADDRESS", "help@cloud.test")
        patch.delenv("OVERCAST_MAIL_SMTP_HOST", raising=False)
        running = InProcessCloud(tmp_path_factory.mktemp("portal_tickets"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def http(cloud: InProcessCloud) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=cloud.base_url, timeout=30) as client:
        yield client


def _created(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


def _person(
    http: httpx.Client, admin: dict[str, str], name: str, role: str, account_id: str | None
) -> Person:
    project = _created(
        http.post(
            "/identity/v3/projects",
            headers=admin,
            json={"project": {"name": f"{name}-project", "domain_id": "default"}},
        )
    )["project"]
    user = _created(http.post("/identity/v3/users", headers=admin, json={"user": {
        "name": name, "password": PASSWORD, "email": f"{name}@example.test", "domain_id": "default",
        "default_project_id": project["id"],
    }}))["user"]  # fmt: skip
    [found] = _created(http.get("/identity/v3/roles", headers=admin, params={"name": role}))["roles"]
    _created(
        http.put(
            f"/identity/v3/projects/{project['id']}/users/{user['id']}/roles/{found['id']}", headers=admin
        )
    )
    if account_id is not None:
        _created(http.put(f"/billing/v1/accounts/{account_id}/projects/{project['id']}", headers=admin))
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": name, "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"id": project["id"]}},
    }}  # fmt: skip
    login = http.post("/identity/v3/auth/tokens", json=body)
    assert login.status_code == 201, login.text
    return Person(name, user["id"], project["id"], f"{name}@example.test", login.headers["X-Subject-Token"])


@pytest.fixture(scope="module")
def people(cloud: InProcessCloud, http: httpx.Client) -> dict[str, Person]:
    admin = {"X-Auth-Token": project_token(cloud, "admin")}
    rates = [{"metric": "instance.running", "unit": "hour", "price": "0.10"}]
    price_list = {"name": "standard", "currency": "EUR", "rates": rates}
    _created(http.post("/billing/v1/price-lists", headers=admin, json={"price_list": price_list}))
    accounts = {
        name: _created(http.post("/billing/v1/accounts", headers=admin, json={"account": {
            "name": f"{name}-co", "currency": "EUR", "price_list": "standard"}}))["account"]["id"]
        for name in ("ada", "bob")
    }  # fmt: skip
    return {
        "ada": _person(http, admin, "ada", "member", accounts["ada"]),
        "bob": _person(http, admin, "bob", "member", accounts["bob"]),
        "sam": _person(http, admin, "sam", "support", None),
    }


def message_of(response: httpx.Response) -> str:
    """The refusal's message, whichever key names the error."""
    [error] = response.json().values()
    return str(error["message"])


def mails_to(cloud: InProcessCloud, address: str) -> list[EmailMessage]:
    folder = MailFolder(cloud.data_dir / "mail")
    return [folder.read(mail.id) for mail in folder.list() if address in mail.to]


def text_of(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return str(body.get_content())


def make_volume(cloud: InProcessCloud, person: Person) -> str:
    with httpx.Client(base_url=cloud.base_url, timeout=30) as client:
        made = client.post(f"/volume/v3/{person.project_id}/volumes", headers=person.headers,
                           json={"volume": {"size": 1, "name": f"{person.name}-data"}})  # fmt: skip
    assert made.status_code == 202, made.text
    volume_id: str = made.json()["volume"]["id"]
    return volume_id


def test_a_ticket_may_be_about_the_accounts_own_things_only(
    cloud: InProcessCloud, http: httpx.Client, people: dict[str, Person]
) -> None:
    ada, bob = people["ada"], people["bob"]
    mine, theirs = make_volume(cloud, ada), make_volume(cloud, bob)
    ticket = open_ticket(http, ada, reference={"type": "volume", "id": mine})
    assert ticket["reference"] == {"type": "volume", "id": mine}
    body = {
        "subject": "x",
        "category": "technical",
        "body": "y",
        "reference": {"type": "volume", "id": theirs},
    }
    refused = http.post(f"{PORTAL}/tickets", headers=ada.headers, json=body)
    assert refused.status_code == 400 and theirs in message_of(refused)


def open_ticket(http: httpx.Client, person: Person, **fields: Any) -> dict[str, Any]:
    body = {
        "subject": "Server will not boot",
        "category": "technical",
        "body": "It stays in BUILD.",
        **fields,
    }
    ticket: dict[str, Any] = _created(http.post(f"{PORTAL}/tickets", headers=person.headers, json=body))[
        "ticket"
    ]
    return ticket


def test_another_accounts_ticket_is_a_404_everywhere(http: httpx.Client, people: dict[str, Person]) -> None:
    ada, bob, sam = people["ada"], people["bob"], people["sam"]
    ticket = open_ticket(http, ada)
    first = ticket["messages"][0]["id"]
    upload = http.post(f"{PORTAL}/tickets/{ticket['id']}/messages/{first}/attachments", headers=ada.headers,
                       params={"filename": "log.txt"}, content=b"boot log")  # fmt: skip
    attachment = _created(upload)["attachment"]
    path = f"{PORTAL}/tickets/{ticket['id']}"
    for response in (
        http.get(path, headers=bob.headers),
        http.patch(path, headers=bob.headers, json={"status": "closed"}),
        http.post(f"{path}/messages", headers=bob.headers, json={"body": "let me in"}),
        http.get(f"{path}/messages/{first}/attachments/{attachment['id']}", headers=bob.headers),
        http.post(
            f"{path}/messages/{first}/attachments",
            headers=bob.headers,
            params={"filename": "x"},
            content=b"x",
        ),
    ):
        assert response.status_code == 404, response.text
        assert ticket["id"] in message_of(response)
    assert ticket["id"] not in {
        row["id"] for row in _created(http.get(f"{PORTAL}/tickets", headers=bob.headers))["tickets"]
    }
    assert _created(http.get(path, headers=ada.headers))["ticket"]["subject"] == "Server will not boot"
    queue = _created(
        http.get(f"{PORTAL}/tickets", headers=sam.headers, params={"account_id": ticket["account"]["id"]})
    )
    assert ticket["id"] in {row["id"] for row in queue["tickets"]}


def test_support_answers_notes_stay_internal_and_replies_are_mailed(
    cloud: InProcessCloud, http: httpx.Client, people: dict[str, Person]
) -> None:
    ada, sam = people["ada"], people["sam"]
    ticket = open_ticket(http, ada, subject="Billing question", category="billing", body="Why 3 EUR?")
    path = f"{PORTAL}/tickets/{ticket['id']}"
    [opened] = [
        mail for mail in mails_to(cloud, "help@cloud.test") if ticket["id"] in mail["X-Overcast-Ticket"]
    ]
    assert "Why 3 EUR?" in text_of(opened) and f"/dashboard/admin/tickets/{ticket['id']}" in text_of(opened)

    _created(http.patch(path, headers=sam.headers, json={"assignee": sam.user_id}))
    note = http.post(
        f"{path}/messages", headers=sam.headers, json={"body": "Customer overpaid; check", "internal": True}
    )
    assert note.status_code == 201
    answer = http.post(f"{path}/messages", headers=sam.headers, json={"body": "Three hours of m1.tiny."})
    assert answer.status_code == 201

    seen = _created(http.get(path, headers=ada.headers))["ticket"]
    assert [message["body"] for message in seen["messages"]] == ["Why 3 EUR?", "Three hours of m1.tiny."]
    assert seen["status"] == "waiting-for-customer" and seen["assignee"]["name"] == "sam"
    staff = _created(http.get(path, headers=sam.headers))["ticket"]
    assert [message["internal"] for message in staff["messages"]] == [False, True, False]
    to_ada = [
        text_of(mail) for mail in mails_to(cloud, ada.email) if mail["X-Overcast-Ticket"] == ticket["id"]
    ]
    assert len(to_ada) == 1 and "Three hours of m1.tiny." in to_ada[0]
    assert not any("overpaid" in text for text in to_ada)

    _created(http.post(f"{path}/messages", headers=ada.headers, json={"body": "Thanks!"}))
    assert _created(http.get(path, headers=ada.headers))["ticket"]["status"] == "waiting-for-support"
    to_sam = [mail for mail in mails_to(cloud, sam.email) if mail["X-Overcast-Ticket"] == ticket["id"]]
    assert len(to_sam) == 1 and "Thanks!" in text_of(to_sam[0])
    closed = _created(http.patch(path, headers=ada.headers, json={"status": "closed"}))["ticket"]
    assert closed["status"] == "closed"


def test_attachments_are_limited_and_downloaded_never_rendered(
    http: httpx.Client, people: dict[str, Person]
) -> None:
    ada, sam = people["ada"], people["sam"]
    ticket = open_ticket(http, ada)
    base = f"{PORTAL}/tickets/{ticket['id']}/messages/{ticket['messages'][0]['id']}/attachments"
    too_big = http.post(
        base, headers=ada.headers, params={"filename": "core.dump"}, content=b"x" * (LIMIT + 1)
    )
    assert too_big.status_code == 413 and str(LIMIT) in message_of(too_big)
    page = _created(
        http.post(
            base,
            headers={**ada.headers, "Content-Type": "text/html"},
            params={"filename": "évil.html"},
            content=b"<script>alert(1)</script>",
        )
    )["attachment"]
    download = http.get(f"{base}/{page['id']}", headers=sam.headers)
    assert download.status_code == 200 and download.content == b"<script>alert(1)</script>"
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status"),
    [
        ("ada", "post", "/tickets", {"subject": "x", "category": "urgent", "body": "y"}, 400),
        ("ada", "post", "/tickets", {"subject": "x", "category": "other"}, 400),
        ("ada", "post", "/tickets", [1, 2], 400),
        ("ada", "patch", "/tickets/{id}", {"status": "waiting-for-customer"}, 403),
        ("ada", "patch", "/tickets/{id}", {"assignee": None}, 403),
        ("ada", "post", "/tickets/{id}/messages", {"body": "x", "internal": True}, 403),
        ("sam", "patch", "/tickets/{id}", {"status": "resolved"}, 400),
        ("sam", "patch", "/tickets/{id}", {}, 400),
        ("sam", "get", "/tickets?limit=0", None, 400),
        ("sam", "get", "/tickets?marker=no-such-ticket", None, 400),
        ("sam", "get", "/tickets?status=done", None, 400),
    ],
)
def test_refusals_are_clear_4xx(
    http: httpx.Client, people: dict[str, Person], who: str, method: str, path: str, body: Any, status: int
) -> None:
    ticket = open_ticket(http, people["ada"])
    response = http.request(method, PORTAL + path.format(id=ticket["id"]), headers=people[who].headers,
                            json=body)  # fmt: skip
    assert response.status_code == status, response.text
    assert message_of(response)


def test_pages_follow_the_marker(http: httpx.Client, people: dict[str, Person]) -> None:
    ada = people["ada"]
    for _ in range(3):
        open_ticket(http, ada)
    first = _created(http.get(f"{PORTAL}/tickets", headers=ada.headers, params={"limit": "2"}))
    [link] = first["tickets_links"]
    second = _created(http.get(link["href"], headers=ada.headers))
    assert not {row["id"] for row in first["tickets"]} & {row["id"] for row in second["tickets"]}
    everything = _created(http.get(f"{PORTAL}/tickets", headers=ada.headers))["tickets"]
    assert [row["id"] for row in everything[:4]] == [
        row["id"] for row in first["tickets"] + second["tickets"][:2]
    ]


def test_the_queue_is_on_metrics(
    cloud: InProcessCloud, http: httpx.Client, people: dict[str, Person]
) -> None:
    open_ticket(http, people["ada"])
    scraped = http.get("/metrics").text
    found = re.search(r'^overcast_portal_tickets\{status="open"\} (\S+)$', scraped, re.MULTILINE)
    assert found is not None and float(found.group(1)) >= 1
    assert re.search(r"^overcast_portal_ticket_oldest_wait_seconds \S+$", scraped, re.MULTILINE)


# -- the dashboard's pages ----------------------------------------------------------------------------


def _post_form(
    browser: FormClient, path: str, fields: dict[str, str], file: tuple[str, bytes, str] | None
) -> httpx.Response:
    data = {**fields, "csrf_token": browser.csrf()}
    files = {"file": file} if file else {"file": ("", b"", "application/octet-stream")}
    response = browser.http.post(path, data=data, files=files)
    browser.page = response.text
    return response


def test_a_customer_opens_a_ticket_and_support_answers_it_in_the_dashboard(
    cloud: InProcessCloud, people: dict[str, Person]
) -> None:
    ada_browser, sam_browser, bob_browser = FormClient(cloud), FormClient(cloud), FormClient(cloud)
    try:
        for browser, name in ((ada_browser, "ada"), (sam_browser, "sam"), (bob_browser, "bob")):
            assert browser.log_in(name, PASSWORD).status_code in (200, 303)
        volume = make_volume(cloud, people["ada"])
        form_page = ada_browser.get("/support/tickets/new").text
        assert f'value="volume:{volume}"' in form_page
        fields = {"subject": "<b>Disk</b> is slow", "category": "technical", "reference": f"volume:{volume}",
                  "body": "<script>alert('x')</script> it takes ages"}  # fmt: skip
        made = _post_form(
            ada_browser, "/support/tickets/new", fields, ("iostat.txt", b"sda 99%", "text/plain")
        )
        assert made.status_code == 303, made.text
        ticket_path = made.headers["location"].removeprefix("/dashboard")
        ticket_id = ticket_path.rsplit("/", 1)[1]
        page = ada_browser.get(ticket_path).text
        assert "&lt;script&gt;alert(" in page and "<script>alert(" not in page
        assert "&lt;b&gt;Disk&lt;/b&gt; is slow" in page and "iostat.txt" in page
        assert f"volume {volume}" in page

        queue = sam_browser.get("/admin/tickets", status="waiting-for-support")
        assert queue.status_code == 200 and ticket_id not in queue.text  # a new ticket is open
        assert ticket_id in sam_browser.get("/admin/tickets", status="open").text
        sam_browser.get(f"/admin/tickets/{ticket_id}")
        note = _post_form(
            sam_browser,
            f"/admin/tickets/{ticket_id}/reply",
            {"body": "noisy neighbour on c3", "internal": "on"},
            None,
        )
        assert note.status_code == 303
        sam_browser.get(f"/admin/tickets/{ticket_id}")
        answer = _post_form(
            sam_browser, f"/admin/tickets/{ticket_id}/reply", {"body": "Moved you to c4."}, None
        )
        assert answer.status_code == 303
        staff_page = sam_browser.get(f"/admin/tickets/{ticket_id}").text
        assert "noisy neighbour on c3" in staff_page and "internal note" in staff_page
        updated = sam_browser.post(
            f"/admin/tickets/{ticket_id}/update", {"assignee": "me", "status": "closed"}
        )
        assert updated.status_code == 303

        customer_page = ada_browser.get(ticket_path).text
        assert "Moved you to c4." in customer_page and "noisy neighbour" not in customer_page
        assert 'data-status="closed"' in customer_page
        attachment = re.search(r'href="/dashboard(/support/tickets/[^"]+/attachments/[^"]+)"', customer_page)
        assert attachment is not None
        assert ada_browser.get(attachment.group(1)).content == b"sda 99%"
        to_ada = [
            mail for mail in mails_to(cloud, "ada@example.test") if mail["X-Overcast-Ticket"] == ticket_id
        ]
        assert [("Moved you to c4." in text_of(mail), "(closed)" in mail["Subject"]) for mail in to_ada] == [
            (True, False),
            (False, True),
        ]

        assert bob_browser.get(ticket_path).status_code == 404
        assert bob_browser.get(attachment.group(1)).status_code == 404
        assert ticket_id not in bob_browser.get("/support/tickets").text
        assert bob_browser.get("/admin/tickets").status_code == 403
    finally:
        for browser in (ada_browser, sam_browser, bob_browser):
            browser.close()


def test_support_through_a_group_is_staff_and_the_picker_offers_the_staff(
    cloud: InProcessCloud, http: httpx.Client, people: dict[str, Person]
) -> None:
    """gil holds `support` only through a Keystone group: his token says support, the queue is his, he is
    in the support staff list and can be given a ticket; a customer is neither listed nor may list."""
    admin = {"X-Auth-Token": project_token(cloud, "admin")}
    gil = _person(http, admin, "gil", "reader", None)
    group = _created(http.post("/identity/v3/groups", headers=admin, json={"group": {"name": "helpdesk"}}))
    group_id = group["group"]["id"]
    _created(http.put(f"/identity/v3/groups/{group_id}/users/{gil.user_id}", headers=admin))
    [support] = _created(http.get("/identity/v3/roles", headers=admin, params={"name": "support"}))["roles"]
    grant = f"/identity/v3/projects/{gil.project_id}/groups/{group_id}/roles/{support['id']}"
    _created(http.put(grant, headers=admin))
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "gil", "domain": {"id": "default"}, "password": PASSWORD}}},
        "scope": {"project": {"id": gil.project_id}},
    }}  # fmt: skip
    login = http.post("/identity/v3/auth/tokens", json=body)
    assert login.status_code == 201, login.text
    assert "support" in {role["name"] for role in login.json()["token"]["roles"]}
    gil_headers = {"X-Auth-Token": login.headers["X-Subject-Token"]}

    listed = _created(http.get(f"{PORTAL}/support-staff", headers=gil_headers))["support_staff"]
    names = {member["name"] for member in listed}
    assert {"gil", "sam", "admin"} <= names and not names & {"ada", "bob"}
    refused = http.get(f"{PORTAL}/support-staff", headers=people["ada"].headers)
    assert refused.status_code == 403, refused.text

    ticket = open_ticket(http, people["ada"], subject="Quota", category="account", body="More cores?")
    path = f"{PORTAL}/tickets/{ticket['id']}"
    not_staff = http.patch(path, headers=gil_headers, json={"assignee": people["bob"].user_id})
    assert not_staff.status_code == 400 and "not support staff" in message_of(not_staff)

    sam_browser = FormClient(cloud)
    try:
        assert sam_browser.log_in("sam", PASSWORD).status_code in (200, 303)
        page = sam_browser.get(f"/admin/tickets/{ticket['id']}").text
        assert f'<option value="{gil.user_id}">gil (gil@example.test)</option>' in page
        assert f'value="{people["ada"].user_id}"' not in page
        assigned = sam_browser.post(f"/admin/tickets/{ticket['id']}/update", {"assignee": gil.user_id})
        assert assigned.status_code == 303
        queue = sam_browser.get("/admin/tickets", assignee=gil.user_id).text
        assert f'<option value="{gil.user_id}" selected>gil</option>' in queue
        assert f'data-ticket-id="{ticket["id"]}"' in queue
    finally:
        sam_browser.close()
    assert _created(http.get(path, headers=people["ada"].headers))["ticket"]["assignee"]["name"] == "gil"


def test_ticket_events_reach_the_clouds_bus(
    cloud: InProcessCloud, http: httpx.Client, people: dict[str, Person]
) -> None:
    """What metering or monitoring hears when a customer opens a ticket and support notes and answers."""
    heard: list[tuple[str, dict[str, Any]]] = []

    class Endpoint:
        def info(
            self, ctxt: RequestContext, publisher: str, event_type: str, payload: dict[str, Any], meta: Any
        ) -> None:
            if event_type.startswith("portal.ticket."):
                heard.append((event_type, payload))

    listener = NotificationListener(cloud.cloud.transport, [Endpoint()], pool="test-portal-tickets")
    listener.start()
    try:
        ada, sam = people["ada"], people["sam"]
        ticket = open_ticket(http, ada, subject="Events", category="other", body="hello")
        path = f"{PORTAL}/tickets/{ticket['id']}/messages"
        _created(http.post(path, headers=sam.headers, json={"body": "note", "internal": True}))
        _created(http.post(path, headers=sam.headers, json={"body": "answer"}))

        def mine() -> list[tuple[str, Any, Any]]:
            return sorted(
                (event_type, payload.get("internal"), payload.get("old_status"))
                for event_type, payload in list(heard)
                if payload["ticket_id"] == ticket["id"]
            )

        wait_until(lambda: len(mine()) >= 4, what="the ticket's four events")
        assert mine() == [
            ("portal.ticket.create", None, None),
            ("portal.ticket.reply", False, None),
            ("portal.ticket.reply", True, None),
            ("portal.ticket.status", None, "open"),
        ]
    finally:
        listener.stop()
        listener.wait(5)
