"""`overcast manage ticket ...` on a data directory's database: the operator reads the queue and the
conversation (internal notes too), answers (the customer is mailed), assigns to one of the support staff
(a group's role counts) and closes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from overcast.cli.main import main
from overcast.config import Settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.billing import BillingAccount, BillingAccountProject
from overcast.db.models.identity import (
    Domain,
    Group,
    GroupMembership,
    GroupRoleAssignment,
    Role,
    RoleAssignment,
    User,
)
from overcast.mail import MailFolder, mailer_from
from overcast.portal.outbox import Outbox
from overcast.portal.tickets import TicketsAPI

CUSTOMER = RequestContext(user_id="u-ada", user_name="ada", project_id="p-ada", roles=("member", "reader"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("OVERCAST_MAIL_SMTP_HOST", raising=False)
    monkeypatch.delenv("OVERCAST_DATABASE_URL", raising=False)
    db = Database(f"sqlite:///{tmp_path / 'overcast.db'}")
    db.upgrade()
    with db.writer() as session:
        session.add(Domain(id="default", name="Default"))
        session.add(User(id="u-admin", name="admin", domain_id="default"))
        session.add(Role(id="r-admin", name="admin"))
        session.flush()
        session.add(
            RoleAssignment(user_id="u-admin", target_type="project", target_id="p-ops", role_id="r-admin")
        )
        session.add(User(id="u-ada", name="ada", domain_id="default", email="ada@example.test"))
        session.add(User(id="u-gus", name="gus", domain_id="default"))
        session.add(Role(id="r-support", name="support"))
        session.add(Group(id="g-helpdesk", name="helpdesk", domain_id="default"))
        session.flush()
        session.add(GroupMembership(group_id="g-helpdesk", user_id="u-gus"))
        session.add(GroupRoleAssignment(group_id="g-helpdesk", target_type="project", target_id="p-ops",
                                        role_id="r-support", inherited=False))  # fmt: skip
        session.add(BillingAccount(id="a-ada", name="ada-co", currency="EUR", price_list="standard",
                                   mode="postpaid", opened_at=datetime(2031, 1, 1, tzinfo=UTC)))  # fmt: skip
        session.flush()
        session.add(BillingAccountProject(project_id="p-ada", account_id="a-ada"))
    db.dispose()
    return tmp_path


def test_the_operator_answers_and_closes_a_ticket(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings(data_dir=data_dir)
    folder = mailer_from(settings)
    assert isinstance(folder, MailFolder)
    db = Database(f"sqlite:///{data_dir / 'overcast.db'}")
    clock = lambda: datetime.now(UTC)  # noqa: E731
    customer_side = TicketsAPI(db, Outbox(db, folder, clock), clock, "http://cloud.test/dashboard")
    ticket = customer_side.create(CUSTOMER, {"subject": "Disk full", "category": "technical", "body": "Help"})
    db.dispose()
    where = ["--data-dir", str(data_dir)]

    assert main(["manage", "ticket", "list", "--as", "ada", *where]) == 1
    assert "ada is not support staff" in capsys.readouterr().err
    assert main(["manage", "ticket", "list", *where]) == 0
    [row] = capsys.readouterr().out.splitlines()
    assert row.startswith(ticket["id"]) and "open" in row and row.endswith("Disk full")

    assert main(["manage", "ticket", "reply", ticket["id"], "Looking into it", "--internal", *where]) == 0
    assert main(["manage", "ticket", "reply", ticket["id"], "Grow it with extend", *where]) == 0
    capsys.readouterr()
    assert main(["manage", "ticket", "show", ticket["id"], *where]) == 0
    shown = capsys.readouterr().out
    assert "[waiting-for-customer]" in shown and "INTERNAL NOTE" in shown and "--- admin (support)" in shown

    assert [mail.to for mail in folder.list()] == [("support@cloud.test",), ("ada@example.test",)]
    assert "Grow it with extend" in folder.read(folder.list()[-1].id).get_body(("plain",)).get_content()

    assert main(["manage", "ticket", "assign", ticket["id"], "ada", *where]) == 1
    assert "ada is not one of the support staff (admin, gus)" in capsys.readouterr().err
    assert main(["manage", "ticket", "staff", *where]) == 0
    assert [line.split("  ")[1] for line in capsys.readouterr().out.splitlines()] == ["admin", "gus"]
    # gus holds support only through his group, and acts as staff with it.
    assert main(["manage", "ticket", "assign", ticket["id"], "gus", "--as", "gus", *where]) == 0
    assert '"name": "gus"' in capsys.readouterr().out
    assert main(["manage", "ticket", "assign", ticket["id"], "admin", *where]) == 0
    assert '"name": "admin"' in capsys.readouterr().out
    assert main(["manage", "ticket", "close", ticket["id"], *where]) == 0
    capsys.readouterr()
    assert main(["manage", "ticket", "list", "--status", "closed", *where]) == 0
    assert ticket["id"] in capsys.readouterr().out
    assert main(["manage", "ticket", "show", "no-such-ticket", *where]) == 1
    assert "could not be found" in capsys.readouterr().err
