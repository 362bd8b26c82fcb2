"""Who is support staff, as a token's roles are computed: roles granted to the user or to a group of theirs,
inherited onto projects below, implied by another role; disabled users and grants that reach no project
do not count. Assigning a ticket takes only those people."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.models.billing import BillingAccount, BillingAccountProject
from overcast.db.models.identity import (
    Domain,
    Group,
    GroupMembership,
    GroupRoleAssignment,
    ImpliedRole,
    Project,
    Role,
    RoleAssignment,
    User,
)
from overcast.mail import Mail, Mailer
from overcast.portal.outbox import Outbox
from overcast.portal.tickets import TicketsAPI
from overcast.portal.tickets_staff import is_staff_user, support_staff

START = datetime(2031, 3, 1, tzinfo=UTC)
CUSTOMER = RequestContext(user_id="u-ada", user_name="ada", project_id="p-ada", roles=("member", "reader"))
# The token's roles: what identity put in it (through the group), not a direct grant.
HELPDESK = RequestContext(user_id="u-gus", user_name="gus", project_id="p-ops", roles=("support",))


class NoMail(Mailer):
    def send(self, mail: Mail) -> str:
        return "<kept@test>"


def _user(session: Session, user_id: str, name: str, *, enabled: bool = True) -> None:
    email = f"{name}@example.test"
    session.add(User(id=user_id, name=name, domain_id="default", email=email, enabled=enabled))


@pytest.fixture
def staffed(db: Database) -> Database:
    """gus: support through the helpdesk group; ivy: a role implying support; dora: support inherited
    from the ops domain (which has a project); nell: inherited from a project with nothing below;
    dan: support but disabled; ada: a customer."""
    with db.writer() as session:
        session.add(Domain(id="default", name="Default"))
        session.add(Domain(id="d-ops", name="ops"))
        session.flush()
        session.add(Project(id="p-ops", name="ops", domain_id="d-ops"))
        session.add(Project(id="p-leaf", name="leaf", domain_id="default"))
        for user_id, name in (("u-gus", "gus"), ("u-ivy", "ivy"), ("u-dora", "Dora"), ("u-nell", "nell")):
            _user(session, user_id, name)
        _user(session, "u-dan", "dan", enabled=False)
        _user(session, "u-ada", "ada")
        for role_id, name in (("r-support", "support"), ("r-lead", "support-lead"), ("r-member", "member")):
            session.add(Role(id=role_id, name=name))
        session.add(Group(id="g-helpdesk", name="helpdesk", domain_id="default"))
        session.flush()
        session.add(ImpliedRole(prior_role_id="r-lead", implied_role_id="r-support"))
        session.add(GroupMembership(group_id="g-helpdesk", user_id="u-gus"))
        session.add(GroupRoleAssignment(group_id="g-helpdesk", target_type="project", target_id="p-ops",
                                        role_id="r-support", inherited=False))  # fmt: skip
        grants = (
            ("u-ivy", "project", "p-ops", "r-lead", False),
            ("u-dora", "domain", "d-ops", "r-support", True),
            ("u-nell", "project", "p-leaf", "r-support", True),
            ("u-dan", "project", "p-ops", "r-support", False),
            ("u-ada", "project", "p-ada", "r-member", False),
        )
        for user_id, target_type, target_id, role_id, inherited in grants:
            session.add(RoleAssignment(user_id=user_id, target_type=target_type, target_id=target_id,
                                       role_id=role_id, inherited=inherited))  # fmt: skip
        session.add(BillingAccount(id="a-ada", name="ada-co", currency="EUR", price_list="standard",
                                   mode="postpaid", opened_at=START))  # fmt: skip
        session.flush()
        session.add(BillingAccountProject(project_id="p-ada", account_id="a-ada"))
    return db


@pytest.mark.parametrize(
    ("user_id", "staff"),
    [
        ("u-gus", True),
        ("u-ivy", True),
        ("u-dora", True),
        ("u-nell", False),
        ("u-dan", False),
        ("u-ada", False),
        ("u-nobody", False),
    ],
)
def test_staff_is_worked_out_as_a_tokens_roles_are(staffed: Database, user_id: str, staff: bool) -> None:
    with staffed.reader() as session:
        assert is_staff_user(session, user_id) is staff


def test_the_support_staff_are_listed_by_name(staffed: Database) -> None:
    with staffed.reader() as session:
        members = support_staff(session)
    assert [(member.name, member.email) for member in members] == [
        ("Dora", "Dora@example.test"),
        ("gus", "gus@example.test"),
        ("ivy", "ivy@example.test"),
    ]


def test_a_ticket_is_assigned_only_to_the_support_staff(staffed: Database) -> None:
    api = TicketsAPI(
        staffed, Outbox(staffed, NoMail(), lambda: START), lambda: START, "http://cloud.test/dashboard"
    )
    ticket = api.create(CUSTOMER, {"subject": "Slow disk", "category": "technical", "body": "IO waits"})
    assigned = api.update(HELPDESK, ticket["id"], {"assignee": "u-gus"})
    assert assigned["assignee"] == {"user_id": "u-gus", "name": "gus"}
    for outsider in ("u-nell", "u-dan", "u-ada"):
        with pytest.raises(errors.BadRequest, match="is not support staff"):
            api.update(HELPDESK, ticket["id"], {"assignee": outsider})
    assert api.get(CUSTOMER, ticket["id"])["assignee"] == {"user_id": "u-gus", "name": "gus"}
    assert [member["name"] for member in api.staff(HELPDESK)] == ["Dora", "gus", "ivy"]
    with pytest.raises(errors.Forbidden):
        api.staff(CUSTOMER)
