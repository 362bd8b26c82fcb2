"""Keystone's personas in the identity rules: system readers read everything, a domain manager manages
their own domain's projects and users and grants them roles up to manager, and nothing else."""

from __future__ import annotations

from overcast import policy
from overcast.context import RequestContext

SYSTEM_READER = RequestContext(user_id="sr", roles=("reader",), system_scope="all", domain_id="default")
DOMAIN_MANAGER = RequestContext(user_id="dm", roles=("manager", "member", "reader"), domain_id="acme")
PROJECT_MANAGER = RequestContext(
    user_id="pm", project_id="p1", roles=("manager", "member", "reader"), domain_id="acme"
)
MEMBER = RequestContext(user_id="m", project_id="p1", roles=("member", "reader"), domain_id="acme")


def grant(
    role: str, *, domain: str = "acme", actor_domain: str = "acme", kind: str = "project"
) -> dict[str, str]:
    return {"target_kind": kind, "domain_id": domain, "actor_domain_id": actor_domain, "role_name": role}


def test_a_system_reader_reads_but_never_writes() -> None:
    for rule in (
        "identity:list_users",
        "identity:list_projects",
        "identity:list_role_assignments",
        "identity:get_catalog",
    ):
        assert policy.authorize(SYSTEM_READER, rule, {"domain_id": "elsewhere"}), rule
    for rule in (
        "identity:manage_user",
        "identity:manage_project",
        "identity:manage_catalog",
        "identity:manage_role",
    ):
        assert not policy.authorize(SYSTEM_READER, rule, {"domain_id": "default"}), rule
    assert not policy.authorize(SYSTEM_READER, "identity:manage_grant", grant("reader", domain="default"))


def test_a_domain_manager_manages_their_domain_only() -> None:
    assert policy.authorize(DOMAIN_MANAGER, "identity:manage_project", {"domain_id": "acme"})
    assert policy.authorize(DOMAIN_MANAGER, "identity:manage_user", {"domain_id": "acme"})
    assert policy.authorize(DOMAIN_MANAGER, "identity:list_users", {"domain_id": "acme"})
    assert not policy.authorize(DOMAIN_MANAGER, "identity:manage_project", {"domain_id": "default"})
    assert not policy.authorize(DOMAIN_MANAGER, "identity:list_users", {"domain_id": "default"})
    assert not policy.authorize(DOMAIN_MANAGER, "identity:manage_domain", {"domain_id": "acme"})


def test_a_domain_manager_grants_up_to_manager_on_their_projects_to_their_users() -> None:
    for role in ("manager", "member", "reader"):
        assert policy.authorize(DOMAIN_MANAGER, "identity:manage_grant", grant(role))
    assert not policy.authorize(DOMAIN_MANAGER, "identity:manage_grant", grant("admin"))
    assert not policy.authorize(DOMAIN_MANAGER, "identity:manage_grant", grant("service"))
    assert not policy.authorize(DOMAIN_MANAGER, "identity:manage_grant", grant("member", domain="default"))
    assert not policy.authorize(
        DOMAIN_MANAGER, "identity:manage_grant", grant("member", actor_domain="default")
    )
    assert not policy.authorize(DOMAIN_MANAGER, "identity:manage_grant", grant("member", kind="domain"))
    assert not policy.authorize(DOMAIN_MANAGER, "identity:manage_grant", grant("member", kind="system"))


def test_a_project_scoped_manager_or_member_is_no_domain_manager() -> None:
    for context in (PROJECT_MANAGER, MEMBER):
        assert not policy.authorize(context, "identity:manage_project", {"domain_id": "acme"})
        assert not policy.authorize(context, "identity:manage_grant", grant("member"))
        assert not policy.authorize(context, "identity:list_users", {"domain_id": "acme"})


def test_the_shared_personas_name_the_service_and_project_manager_roles() -> None:
    service = RequestContext(user_id="nova", project_id="service", roles=("service",))
    assert policy.authorize(service, "service") and not policy.authorize(MEMBER, "service")
    assert policy.authorize(PROJECT_MANAGER, "project_manager", {"project_id": "p1"})
    assert not policy.authorize(PROJECT_MANAGER, "project_manager", {"project_id": "p2"})
    assert not policy.authorize(MEMBER, "admin_or_project_manager", {"project_id": "p1"})
