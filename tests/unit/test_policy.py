"""The rule table: roles, project ownership, registration, Forbidden and the 404 of project isolation."""

from __future__ import annotations

import pytest

from overcast import policy
from overcast.context import RequestContext
from overcast.errors import Forbidden, NotFound

ADMIN = RequestContext(user_id="root", project_id="pa", roles=("admin", "member", "reader"), is_admin=True)
MEMBER_A = RequestContext(user_id="alice", project_id="pa", roles=("member", "reader"))
READER_A = RequestContext(user_id="rita", project_id="pa", roles=("reader",))
MEMBER_B = RequestContext(user_id="bob", project_id="pb", roles=("member", "reader"))
ANONYMOUS = RequestContext()


@pytest.mark.parametrize(
    ("rule", "context", "target", "allowed"),
    [
        ("admin", ADMIN, {}, True),
        ("admin", MEMBER_A, {}, False),
        ("project_member", MEMBER_A, {"project_id": "pa"}, True),
        ("project_member", MEMBER_A, {"project_id": "pb"}, False),
        ("project_member", READER_A, {"project_id": "pa"}, False),
        ("project_reader", READER_A, {"project_id": "pa"}, True),
        ("project_reader", MEMBER_B, {"project_id": "pa"}, False),
        ("admin_or_member", ADMIN, {"project_id": "pb"}, True),
        ("owner", MEMBER_A, {"user_id": "alice"}, True),
        ("owner", MEMBER_A, {"user_id": "bob"}, False),
        ("owner", ANONYMOUS, {"user_id": None}, False),
        ("project_reader", ANONYMOUS, {"project_id": None}, False),
        ("identity:list_users", MEMBER_A, {}, False),
        ("identity:get_user", MEMBER_A, {"user_id": "alice"}, True),
        ("identity:change_password", ADMIN, {"user_id": "alice"}, False),
        ("os_compute_api:os-quota-sets:update", MEMBER_A, {"project_id": "pa"}, False),
        ("os_compute_api:os-quota-sets:show", READER_A, {"project_id": "pa"}, True),
    ],
)
def test_rules(rule: str, context: RequestContext, target: dict[str, str | None], allowed: bool) -> None:
    assert policy.authorize(context, rule, target) is allowed


def test_enforce_raises_forbidden_or_the_given_error() -> None:
    policy.enforce(ADMIN, "identity:manage_user")
    with pytest.raises(Forbidden, match="identity:manage_user"):
        policy.enforce(MEMBER_A, "identity:manage_user")
    with pytest.raises(NotFound):
        policy.enforce(MEMBER_B, "project_reader", {"project_id": "pa"}, error=NotFound)


def test_unknown_rule_is_a_programming_error() -> None:
    with pytest.raises(policy.PolicyNotRegistered):
        policy.authorize(ADMIN, "compute:no_such_rule")


def test_services_register_their_rules_once() -> None:
    name = "test:servers:create"
    policy.register({name: policy.ADMIN_OR_MEMBER})
    policy.register({name: policy.ADMIN_OR_MEMBER})  # the same rule again is fine
    with pytest.raises(ValueError, match="already registered"):
        policy.register({name: policy.ADMIN})
    assert policy.authorize(MEMBER_A, name, {"project_id": "pa"})
    assert not policy.authorize(MEMBER_B, name, {"project_id": "pa"})


def test_project_isolation_answers_not_found() -> None:
    policy.ensure_visible(MEMBER_A, "pa")
    policy.ensure_visible(ADMIN, "pb")
    with pytest.raises(NotFound):
        policy.ensure_visible(MEMBER_B, "pa", "server")
    with pytest.raises(NotFound):
        policy.ensure_visible(ANONYMOUS, None)
    assert policy.project_filter(MEMBER_A) == "pa"
    assert policy.project_filter(ADMIN) is None
