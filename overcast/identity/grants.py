"""Role grants rows, for users (`RoleAssignment`) and groups (`GroupRoleAssignment`) alike: the two
tables share their shape but for the actor column, so adding, finding and dropping grants is written
once here."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import delete
from sqlalchemy.orm import Session

from overcast.db.models.identity import GroupRoleAssignment, RoleAssignment
from overcast.errors import NotFound

if TYPE_CHECKING:
    from overcast.identity.core import IdentityCore

Grant = RoleAssignment | GroupRoleAssignment
G = TypeVar("G", RoleAssignment, GroupRoleAssignment)
# The actor column of each table, and the word Keystone's messages use for it.
ACTORS: dict[type[Grant], tuple[str, str]] = {
    RoleAssignment: ("user_id", "user"),
    GroupRoleAssignment: ("group_id", "group"),
}


def add_grant(
    session: Session, model: type[Grant], actor_id: str, target_type: str, target_id: str, role_id: str
) -> None:
    """Grant the role (granting it again changes nothing)."""
    if session.get(model, (actor_id, target_type, target_id, role_id)) is None:
        column, _ = ACTORS[model]
        values = {column: actor_id, "target_type": target_type, "target_id": target_id, "role_id": role_id}
        session.add(model(**values))


def get_grant(
    session: Session, model: type[G], actor_id: str, target_type: str, target_id: str, role_id: str
) -> G:
    grant = session.get(model, (actor_id, target_type, target_id, role_id))
    if grant is None:
        _, word = ACTORS[model]
        raise NotFound(f"Could not find role assignment of role {role_id} to {word} {actor_id}.")
    return grant


def drop_target_grants(session: Session, target_type: str, target_id: str) -> None:
    """Every user's and group's grants on a project or domain (which is being deleted)."""
    for model in ACTORS:
        session.execute(delete(model).where(model.target_type == target_type, model.target_id == target_id))


def check_grant_target(core: IdentityCore, session: Session, target_type: str, target_id: str) -> None:
    """NotFound unless the project or domain a grant names exists."""
    if target_type == "project":
        core.get_project(session, target_id)
    else:
        core.get_domain(session, target_id)
