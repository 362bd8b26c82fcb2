"""Role grants rows, for users (`RoleAssignment`) and groups (`GroupRoleAssignment`) alike: the two
tables share their shape but for the actor column, so adding, finding and dropping grants is written
once here.

A grant's target is a project, a domain or the system (Keystone's system scope, whose only id is
"all"); an inherited grant (OS-INHERIT) on a domain or project holds on every project below it
instead of on the target itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import ColumnElement, and_, delete, false, or_
from sqlalchemy.orm import Session

from overcast.db.models.identity import GroupRoleAssignment, RoleAssignment
from overcast.errors import NotFound

Grant = RoleAssignment | GroupRoleAssignment
G = TypeVar("G", RoleAssignment, GroupRoleAssignment)
# The actor column of each table, and the word Keystone's messages use for it.
ACTORS: dict[type[Grant], tuple[str, str]] = {
    RoleAssignment: ("user_id", "user"),
    GroupRoleAssignment: ("group_id", "group"),
}
SYSTEM = "system"
SYSTEM_ALL = "all"


@dataclass(frozen=True)
class GrantTarget:
    """Where a grant holds: ("project", id), ("domain", id) or ("system", "all"), inherited or not."""

    kind: str
    id: str
    inherited: bool = False

    @classmethod
    def system(cls) -> GrantTarget:
        return cls(SYSTEM, SYSTEM_ALL)

    @property
    def revocation_scope(self) -> dict[str, str]:
        """What a revoked grant's tokens are: an inherited or system grant reaches past its target."""
        if self.inherited or self.kind == SYSTEM:
            return {}
        return {f"{self.kind}_id": self.id}

    def key(self, actor_id: str, role_id: str) -> tuple[str, str, str, str, bool]:
        return (actor_id, self.kind, self.id, role_id, self.inherited)

    def matches(self, model: type[Grant]) -> ColumnElement[bool]:
        return and_(
            model.target_type == self.kind, model.target_id == self.id, model.inherited.is_(self.inherited)
        )


def any_target(model: type[Grant], targets: list[GrantTarget]) -> ColumnElement[bool]:
    """A WHERE clause matching grants on any of the targets (none matches nothing)."""
    return or_(false(), *(target.matches(model) for target in targets))


def add_grant(session: Session, model: type[Grant], actor_id: str, target: GrantTarget, role_id: str) -> None:
    """Grant the role (granting it again changes nothing)."""
    if session.get(model, target.key(actor_id, role_id)) is None:
        column, _ = ACTORS[model]
        values = {
            column: actor_id,
            "target_type": target.kind,
            "target_id": target.id,
            "role_id": role_id,
            "inherited": target.inherited,
        }
        session.add(model(**values))


def get_grant(session: Session, model: type[G], actor_id: str, target: GrantTarget, role_id: str) -> G:
    grant = session.get(model, target.key(actor_id, role_id))
    if grant is None:
        _, word = ACTORS[model]
        raise NotFound(f"Could not find role assignment of role {role_id} to {word} {actor_id}.")
    return grant


def drop_target_grants(session: Session, target_type: str, target_id: str) -> None:
    """Every user's and group's grants on a project or domain (which is being deleted), inherited too."""
    for model in ACTORS:
        session.execute(delete(model).where(model.target_type == target_type, model.target_id == target_id))
