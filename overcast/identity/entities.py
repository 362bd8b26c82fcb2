"""Identity entities as plain dicts in the shape of the Identity v3 API (links are added by the router)."""

from __future__ import annotations

from typing import Any

from overcast.db.models.identity import Domain, Project, Role
from overcast.errors import BadRequest
from overcast.identity.backends import UserRecord


def refuse_domain_move(fields: dict[str, Any], domain_id: str | None) -> None:
    """Keystone keeps a user, project or group in the domain it was created in: an update naming
    another domain (or none) is a 400, not a change silently dropped."""
    if "domain_id" in fields and fields["domain_id"] != domain_id:
        raise BadRequest("Update of `domain_id` is not allowed.")


def isotime(value: Any) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value is not None else None


def domain_entity(domain: Domain) -> dict[str, Any]:
    return {
        "id": domain.id,
        "name": domain.name,
        "description": domain.description,
        "enabled": domain.enabled,
        "tags": [],
        "options": {},
    }


def project_entity(project: Project) -> dict[str, Any]:
    # The attributes Keystone does not know by name come first, so none can hide a real one.
    return {
        **(project.extra or {}),
        "id": project.id,
        "name": project.name,
        "domain_id": project.domain_id,
        "description": project.description,
        "enabled": project.enabled,
        "parent_id": project.parent_id or project.domain_id,
        "is_domain": False,
        "tags": list(project.tags or []),
        "options": {},
    }


def user_entity(user: UserRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "id": user.id,
        "name": user.name,
        "domain_id": user.domain_id,
        "enabled": user.enabled,
        "password_expires_at": isotime(user.password_expires_at),
        "options": {},
    }
    if user.email:
        entity["email"] = user.email
    if user.description:
        entity["description"] = user.description
    if user.default_project_id:
        entity["default_project_id"] = user.default_project_id
    return entity


def role_entity(role: Role) -> dict[str, Any]:
    return {
        "id": role.id,
        "name": role.name,
        "domain_id": None,
        "description": role.description,
        "options": {},
    }
