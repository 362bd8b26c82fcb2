"""Who is support staff: the enabled users who hold the admin or the `support` role effectively, as a
token's roles are computed (overcast.identity.core.effective_role_ids): granted to the user or to one of
their groups, inherited onto projects below the grant's target, or implied by a role they hold.

A token carries the roles of one scope; staff is anyone who would get a staff role in SOME scope, so an
operator whose `support` role sits on an operations project can be assigned tickets of every account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from overcast.db.models.identity import (
    GroupMembership,
    GroupRoleAssignment,
    ImpliedRole,
    Project,
    Role,
    RoleAssignment,
    User,
)
from overcast.portal import tickets_policies as rules

STAFF_ROLE_NAMES = ("admin", rules.SUPPORT_ROLE)


@dataclass(frozen=True)
class StaffMember:
    user_id: str
    name: str
    email: str | None

    def view(self) -> dict[str, str | None]:
        return {"user_id": self.user_id, "name": self.name, "email": self.email}


def staff_role_ids(session: Session) -> set[str]:
    """The staff roles and every role that implies one of them, however indirectly."""
    found = set(session.scalars(select(Role.id).where(Role.name.in_(STAFF_ROLE_NAMES))))
    implied_by: dict[str, list[str]] = {}
    for rule in session.scalars(select(ImpliedRole)):
        implied_by.setdefault(rule.implied_role_id, []).append(rule.prior_role_id)
    pending = list(found)
    while pending:
        for prior in implied_by.get(pending.pop(), []):
            if prior not in found:
                found.add(prior)
                pending.append(prior)
    return found


def _reaches_a_project(session: Session, target_type: str, target_id: str, inherited: bool) -> bool:
    """Whether a grant gives its role anywhere: an inherited one only on the projects below its target
    (none below: the role is held nowhere), a plain one on its target itself."""
    if not inherited:
        return True
    below = Project.domain_id == target_id if target_type == "domain" else Project.parent_id == target_id
    return bool(session.scalar(select(exists().where(below))))


def _holders(session: Session, role_ids: set[str], user_id: str | None) -> set[str]:
    """The users holding one of the roles through a grant that reaches a project, domain or the system."""
    direct = select(
        RoleAssignment.user_id, RoleAssignment.target_type, RoleAssignment.target_id, RoleAssignment.inherited
    ).where(RoleAssignment.role_id.in_(role_ids))
    through_groups = (
        select(
            GroupMembership.user_id,
            GroupRoleAssignment.target_type,
            GroupRoleAssignment.target_id,
            GroupRoleAssignment.inherited,
        )
        .join(GroupMembership, GroupMembership.group_id == GroupRoleAssignment.group_id)
        .where(GroupRoleAssignment.role_id.in_(role_ids))
    )
    if user_id is not None:
        direct = direct.where(RoleAssignment.user_id == user_id)
        through_groups = through_groups.where(GroupMembership.user_id == user_id)
    holders: set[str] = set()
    for query in (direct, through_groups):
        for holder, target_type, target_id, inherited in session.execute(query):
            if holder not in holders and _reaches_a_project(session, target_type, target_id, inherited):
                holders.add(holder)
    return holders


def _enabled(session: Session, user_ids: Iterable[str]) -> list[User]:
    wanted = list(user_ids)
    if not wanted:
        return []
    return list(session.scalars(select(User).where(User.id.in_(wanted), User.enabled.is_(True))))


def is_staff_user(session: Session, user_id: str) -> bool:
    """Whether the user is enabled and holds the admin or support role effectively somewhere."""
    return bool(_enabled(session, _holders(session, staff_role_ids(session), user_id)))


def support_staff(session: Session) -> list[StaffMember]:
    """Every enabled user who is support staff, by name: whom a ticket can be assigned to."""
    users = _enabled(session, _holders(session, staff_role_ids(session), None))
    members = [StaffMember(user.id, user.name, user.email) for user in users]
    return sorted(members, key=lambda member: (member.name.casefold(), member.user_id))
