"""TicketsAPI against a real database: who sees which ticket, internal notes, the status moves of
replies and changes, attachments and their limit, and the mails each reply sends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm.attributes import set_committed_value

from overcast import errors
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.billing import BillingAccount, BillingAccountProject
from overcast.db.models.identity import Domain, Role, RoleAssignment, User
from overcast.db.models.portal_tickets import Ticket
from overcast.mail import Mail, Mailer, MailError
from overcast.portal.outbox import Outbox
from overcast.portal.tickets import TicketsAPI, TicketSettings, record_reply, swap_status
from overcast.portal.tickets_states import Side

START = datetime(2031, 3, 1, tzinfo=UTC)
ALICE = RequestContext(user_id="u-alice", user_name="alice", project_id="p-alice", roles=("member", "reader"))
ALICE_READER = RequestContext(user_id="u-carol", user_name="carol", project_id="p-alice", roles=("reader",))
BOB = RequestContext(user_id="u-bob", user_name="bob", project_id="p-bob", roles=("member", "reader"))
SUPPORT = RequestContext(user_id="u-sam", user_name="sam", project_id="p-ops", roles=("support",))
ADMIN = RequestContext(
    user_id="u-admin", user_name="admin", project_id="p-ops", roles=("admin",), is_admin=True
)
TICKET = {"subject": "Server will not boot", "category": "technical", "body": "It stays in BUILD."}


class RecordingMailer(Mailer):
    """Keeps what it is given; `refuse` makes it fail as a relay that is down."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []
        self.refuse = False

    def send(self, mail: Mail) -> str:
        if self.refuse:
            raise MailError("relay down")
        self.sent.append(mail)
        return f"<{len(self.sent)}@test>"


class Clock:
    """Ticks `step` a call; a zero step is a frozen clock."""

    def __init__(self) -> None:
        self.now = START
        self.step = timedelta(seconds=1)

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def api(db: Database, mailer: RecordingMailer) -> TicketsAPI:
    with db.writer() as session:
        session.add(Domain(id="default", name="Default"))
        for user_id, name in (("u-alice", "alice"), ("u-bob", "bob"), ("u-sam", "sam"), ("u-carol", "carol")):
            session.add(User(id=user_id, name=name, domain_id="default", email=f"{name}@example.test"))
        support = Role(id="r-support", name="support")
        session.add(support)
        session.flush()
        session.add(
            RoleAssignment(user_id="u-sam", target_type="project", target_id="p-ops", role_id=support.id)
        )
        for account_id, project in (("a-alice", "p-alice"), ("a-bob", "p-bob")):
            session.add(BillingAccount(id=account_id, name=f"{account_id}-co", currency="EUR",
                                       price_list="standard", mode="postpaid", opened_at=START))  # fmt: skip
            session.flush()
            session.add(BillingAccountProject(project_id=project, account_id=account_id))
    settings = TicketSettings(attachment_max_bytes=1024, support_address="help@cloud.test")
    clock = Clock()
    return TicketsAPI(
        db, Outbox(db, mailer, clock, retry_seconds=0), clock, "https://cloud.test/dashboard", settings
    )


def test_a_ticket_is_seen_by_its_account_and_staff_and_nobody_else(api: TicketsAPI) -> None:
    ticket = api.create(ALICE, TICKET)
    assert ticket["status"] == "open"
    assert ticket["account"] == {"id": "a-alice", "name": "a-alice-co"}
    assert [message["body"] for message in ticket["messages"]] == ["It stays in BUILD."]
    for reader in (ALICE, ALICE_READER, SUPPORT, ADMIN):
        assert api.get(reader, ticket["id"])["subject"] == "Server will not boot"
        assert [row["id"] for row in api.list_tickets(reader)] == [ticket["id"]]
    with pytest.raises(errors.NotFound):
        api.get(BOB, ticket["id"])
    with pytest.raises(errors.NotFound):
        api.reply(BOB, ticket["id"], {"body": "mine now"})
    with pytest.raises(errors.NotFound):
        api.update(BOB, ticket["id"], {"status": "closed"})
    assert api.list_tickets(BOB) == []
    assert api.list_tickets(BOB, account_id="a-alice") == []
    # A reader of the account sees the ticket but may not write to it.
    with pytest.raises(errors.Forbidden):
        api.reply(ALICE_READER, ticket["id"], {"body": "me too"})


def test_internal_notes_are_for_staff_only(api: TicketsAPI, mailer: RecordingMailer) -> None:
    ticket = api.create(ALICE, TICKET)
    mailer.sent.clear()
    note = api.reply(SUPPORT, ticket["id"], {"body": "Host c2 is down, see ops-42", "internal": True})
    assert note["internal"] is True
    assert mailer.sent == []
    assert api.get(ALICE, ticket["id"])["status"] == "open"
    assert [message["body"] for message in api.get(ALICE, ticket["id"])["messages"]] == ["It stays in BUILD."]
    staff_view = api.get(SUPPORT, ticket["id"])["messages"]
    assert [message["internal"] for message in staff_view] == [False, True]
    with pytest.raises(errors.Forbidden, match="internal notes"):
        api.reply(ALICE, ticket["id"], {"body": "sneaky", "internal": True})


def test_replies_move_the_ticket_and_mail_the_other_side(api: TicketsAPI, mailer: RecordingMailer) -> None:
    ticket = api.create(ALICE, TICKET)
    [opened] = mailer.sent
    assert opened.to == ("help@cloud.test",)
    assert opened.headers["X-Overcast-Ticket"] == ticket["id"]
    assert f"https://cloud.test/dashboard/admin/tickets/{ticket['id']}" in opened.body
    assert opened.reply_to == "alice@example.test"

    api.reply(SUPPORT, ticket["id"], {"body": "We moved it to another host."})
    assert api.get(ALICE, ticket["id"])["status"] == "waiting-for-customer"
    answer = mailer.sent[-1]
    assert answer.to == ("alice@example.test",)
    assert "We moved it to another host." in answer.body
    assert f"https://cloud.test/dashboard/support/tickets/{ticket['id']}" in answer.body

    api.update(SUPPORT, ticket["id"], {"assignee": "u-sam"})
    api.reply(ALICE, ticket["id"], {"body": "Thanks, it boots."})
    assert api.get(ALICE, ticket["id"])["status"] == "waiting-for-support"
    assert mailer.sent[-1].to == ("sam@example.test",)
    assert len(mailer.sent) == 3


def test_support_closing_a_ticket_mails_the_customer_and_a_customer_closing_it_does_not(
    api: TicketsAPI, mailer: RecordingMailer
) -> None:
    ticket = api.create(ALICE, TICKET)
    api.update(SUPPORT, ticket["id"], {"status": "closed"})
    closed = mailer.sent[-1]
    assert closed.to == ("alice@example.test",) and closed.subject.endswith("(closed)")
    assert "sam of the support team closed your ticket" in closed.body
    api.update(SUPPORT, ticket["id"], {"status": "closed"})  # already closed: nothing new to tell
    other = api.create(ALICE, TICKET)
    api.update(ALICE, other["id"], {"status": "closed"})
    assert [mail.subject.endswith("(closed)") for mail in mailer.sent] == [False, True, False]


def test_an_address_no_header_can_carry_is_not_mailed_and_fails_nothing(
    api: TicketsAPI, db: Database, mailer: RecordingMailer
) -> None:
    with db.writer() as session:
        alice = session.get(User, "u-alice")
        assert alice is not None
        alice.email = "alice@example.test\nBcc: everyone@example.test"
    ticket = api.create(ALICE, TICKET)
    assert mailer.sent[-1].reply_to is None
    api.reply(SUPPORT, ticket["id"], {"body": "answer"})
    assert len(mailer.sent) == 1 and len(api.get(ALICE, ticket["id"])["messages"]) == 2


def test_a_mail_that_cannot_be_sent_stays_queued_and_the_reply_stays(
    api: TicketsAPI, mailer: RecordingMailer
) -> None:
    ticket = api.create(ALICE, TICKET)
    mailer.refuse = True
    api.reply(SUPPORT, ticket["id"], {"body": "Answer while the relay is down."})
    assert len(api.get(ALICE, ticket["id"])["messages"]) == 2
    assert [mail.to for mail in mailer.sent] == [("help@cloud.test",)]
    mailer.refuse = False
    assert api.outbox.deliver_due() == 1
    assert mailer.sent[-1].to == ("alice@example.test",) and "relay is down" in mailer.sent[-1].body


def test_a_thread_reads_in_the_order_it_was_written_when_the_clock_stands_still(api: TicketsAPI) -> None:
    assert isinstance(api.clock, Clock)
    api.clock.step = timedelta(0)
    ticket = api.create(ALICE, TICKET)
    written = ["It stays in BUILD."]
    for number in range(1, 8):
        author = SUPPORT if number % 2 else ALICE
        api.reply(author, ticket["id"], {"body": f"message {number}", "internal": number == 5})
        written.append(f"message {number}")
    thread = api.get(SUPPORT, ticket["id"])["messages"]
    assert len({message["created_at"] for message in thread}) == 1
    assert [message["body"] for message in thread] == written
    customer_view = [message["body"] for message in api.get(ALICE, ticket["id"])["messages"]]
    assert customer_view == [body for body in written if body != "message 5"]


def test_customers_may_only_close_and_staff_assign(api: TicketsAPI) -> None:
    ticket = api.create(ALICE, TICKET)
    with pytest.raises(errors.Forbidden):
        api.update(ALICE, ticket["id"], {"status": "waiting-for-customer"})
    with pytest.raises(errors.Forbidden, match="assign"):
        api.update(ALICE, ticket["id"], {"assignee": "u-alice"})
    with pytest.raises(errors.BadRequest, match="not support staff"):
        api.update(SUPPORT, ticket["id"], {"assignee": "u-bob"})
    assigned = api.update(SUPPORT, ticket["id"], {"assignee": "u-sam"})
    assert assigned["assignee"] == {"user_id": "u-sam", "name": "sam"}
    closed = api.update(ALICE, ticket["id"], {"status": "closed"})
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    # Replying reopens it, for the other side to answer.
    api.reply(ALICE, ticket["id"], {"body": "It broke again."})
    reopened = api.get(ALICE, ticket["id"])
    assert reopened["status"] == "waiting-for-support" and reopened["closed_at"] is None


def test_a_status_change_from_a_stale_read_is_a_conflict(api: TicketsAPI, db: Database) -> None:
    ticket = api.create(ALICE, TICKET)
    with db.reader() as session:
        stale = session.get(Ticket, ticket["id"])
    assert stale is not None and stale.status == "open"
    api.update(ALICE, ticket["id"], {"status": "closed"})
    with pytest.raises(errors.Conflict, match="changed meanwhile"), db.writer() as session:
        swap_status(session, stale, "waiting-for-support", datetime(2031, 3, 2, tzinfo=UTC))
    assert api.get(SUPPORT, ticket["id"])["status"] == "closed"


def test_a_reply_is_worked_out_again_from_a_status_that_moved_under_it(api: TicketsAPI, db: Database) -> None:
    ticket = api.create(ALICE, TICKET)
    api.update(SUPPORT, ticket["id"], {"status": "closed"})  # support closes while the customer types
    with db.writer() as session:
        seen = session.get(Ticket, ticket["id"])
        assert seen is not None
        set_committed_value(seen, "status", "open")  # what the reply's read saw before the close committed
        record_reply(session, seen, Side.CUSTOMER, datetime(2031, 3, 2, tzinfo=UTC))
    reopened = api.get(SUPPORT, ticket["id"])
    assert reopened["status"] == "waiting-for-support" and reopened["closed_at"] is None


def test_list_filters_and_pages(api: TicketsAPI) -> None:
    made = [api.create(ALICE, {**TICKET, "subject": f"t{n}"})["id"] for n in range(5)]
    api.create(BOB, {**TICKET, "category": "billing"})
    api.update(SUPPORT, made[0], {"assignee": "u-sam", "status": "closed"})
    newest_first = list(reversed(made))
    first = api.list_tickets(ALICE, limit="2")
    second = api.list_tickets(ALICE, limit="2", marker=first[-1]["id"])
    rest = api.list_tickets(ALICE, marker=second[-1]["id"])
    assert [row["id"] for row in first + second + rest] == newest_first
    assert [row["id"] for row in api.list_tickets(ALICE, status="closed")] == [made[0]]
    assert [row["id"] for row in api.list_tickets(SUPPORT, assignee="u-sam")] == [made[0]]
    assert len(api.list_tickets(SUPPORT, assignee="none")) == 5
    assert [row["account"]["id"] for row in api.list_tickets(SUPPORT, category="billing")] == ["a-bob"]
    assert len(api.list_tickets(SUPPORT, account_id="a-alice")) == 5
    for bad in ({"status": "done"}, {"category": "food"}, {"limit": "0"}, {"limit": "x"}, {"marker": "nope"}):
        with pytest.raises(errors.BadRequest):
            api.list_tickets(SUPPORT, **bad)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**TICKET, "subject": "  "}, "subject"),
        ({**TICKET, "category": "urgent"}, "category"),
        ({**TICKET, "body": "x" * 70000}, "body"),
        ({**TICKET, "priority": "high"}, "Unknown"),
        ({**TICKET, "reference": {"type": "server", "id": "no-such-server"}}, "no server"),
        ({**TICKET, "reference": {"type": "network", "id": "n"}}, "reference type"),
        ({**TICKET, "reference": "server-1"}, "reference"),
    ],
)
def test_bad_tickets_are_400s(api: TicketsAPI, body: dict[str, object], message: str) -> None:
    with pytest.raises(errors.BadRequest, match=message):
        api.create(ALICE, body)


def test_a_project_billed_to_no_account_cannot_open_tickets(api: TicketsAPI) -> None:
    stranger = RequestContext(user_id="u-x", project_id="p-unbilled", roles=("member",))
    with pytest.raises(errors.BadRequest, match="not billed"):
        api.create(stranger, TICKET)


def test_attachments_are_limited_private_and_served_harmlessly(api: TicketsAPI) -> None:
    ticket = api.create(ALICE, TICKET)
    message_id = ticket["messages"][0]["id"]
    made = api.attach(ALICE, ticket["id"], message_id, "../../etc/boot.log", "text/plain", b"kernel panic")
    assert made["filename"] == "boot.log" and made["size"] == 12
    page = api.attach(ALICE, ticket["id"], message_id, "x.html", "text/html", b"<script>alert(1)</script>")
    download = api.download(SUPPORT, ticket["id"], message_id, made["id"])
    assert (download.data, download.content_type, download.filename) == (
        b"kernel panic",
        "text/plain",
        "boot.log",
    )
    assert (
        api.download(ALICE, ticket["id"], message_id, page["id"]).content_type == "application/octet-stream"
    )
    assert [item["id"] for item in api.get(ALICE, ticket["id"])["messages"][0]["attachments"]] == [
        made["id"],
        page["id"],
    ]
    with pytest.raises(errors.RequestTooLarge):
        api.attach(ALICE, ticket["id"], message_id, "big.bin", None, b"x" * 1025)
    for number in range(8):
        api.attach(ALICE, ticket["id"], message_id, f"part{number}.txt", "text/plain", b"x")
    with pytest.raises(errors.Conflict, match="at most 10 files"):
        api.attach(ALICE, ticket["id"], message_id, "one-more.txt", "text/plain", b"x")
    with pytest.raises(errors.NotFound):
        api.download(BOB, ticket["id"], message_id, made["id"])
    with pytest.raises(errors.Forbidden, match="own messages"):
        api.attach(SUPPORT, ticket["id"], message_id, "mine.txt", "text/plain", b"x")
    note = api.reply(SUPPORT, ticket["id"], {"body": "trace attached", "internal": True})
    secret = api.attach(SUPPORT, ticket["id"], note["id"], "trace.txt", "text/plain", b"secret")
    with pytest.raises(errors.NotFound):
        api.download(ALICE, ticket["id"], note["id"], secret["id"])
