"""Groups: their members, and roles granted to a group (every member holds them through it).

Taking rights away (removing a member, revoking a group's role, deleting a group) revokes the affected
members' tokens in the same transaction, as the user-level operations do.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast.db.models.identity import Group, GroupMembership, GroupRoleAssignment, Role
from overcast.errors import Conflict, NotFound
from overcast.identity.core import IdentityCore
from overcast.identity.entities import refuse_domain_move, role_entity, user_entity
from overcast.identity.grants import GrantTarget, add_grant, get_grant

Entity = dict[str, Any]


def group_entity(group: Group) -> Entity:
    return {
        "id": group.id,
        "name": group.name,
        "domain_id": group.domain_id,
        "description": group.description,
    }


class GroupAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    # Groups -------------------------------------------------------------------------------------------
    def get_group_row(self, session: Session, group_id: str) -> Group:
        group = session.get(Group, group_id)
        if group is None:
            raise NotFound(f"Could not find group: {group_id}.")
        return group

    def _check_unique_name(self, session: Session, domain_id: str, name: str) -> None:
        query = select(Group.id).where(Group.domain_id == domain_id, Group.name == name)
        if session.scalars(query).first() is not None:
            raise Conflict(f"Duplicate entry: a group named {name} exists in the domain.")

    def list_groups(self, domain_id: str | None = None, name: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(Group).order_by(Group.name, Group.id)
            if domain_id is not None:
                query = query.where(Group.domain_id == domain_id)
            if name is not None:
                query = query.where(Group.name == name)
            return [group_entity(g) for g in session.scalars(query)]

    def get_group(self, group_id: str) -> Entity:
        with self.db.reader() as session:
            return group_entity(self.get_group_row(session, group_id))

    def create_group(self, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            self.core.get_domain(session, fields["domain_id"])
            self._check_unique_name(session, fields["domain_id"], fields["name"])
            group = Group(
                name=fields["name"],
                domain_id=fields["domain_id"],
                description=fields.get("description") or "",
            )
            session.add(group)
            session.flush()
            return group_entity(group)

    def update_group(self, group_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            group = self.get_group_row(session, group_id)
            refuse_domain_move(fields, group.domain_id)
            if fields.get("name") not in (None, group.name):
                self._check_unique_name(session, group.domain_id, fields["name"])
                group.name = fields["name"]
            if "description" in fields:
                group.description = fields["description"] or ""
            session.flush()
            return group_entity(group)

    def delete_group(self, group_id: str) -> None:
        with self.db.writer() as session:
            group = self.get_group_row(session, group_id)
            held_roles = session.scalars(
                select(GroupRoleAssignment.role_id).where(GroupRoleAssignment.group_id == group_id)
            ).first()
            if held_roles is not None:
                for user_id in self._member_ids(session, group_id):
                    self.core.revocations.revoke(session, user_id=user_id)
            session.execute(delete(GroupRoleAssignment).where(GroupRoleAssignment.group_id == group_id))
            session.execute(delete(GroupMembership).where(GroupMembership.group_id == group_id))
            session.delete(group)

    # Membership ---------------------------------------------------------------------------------------
    @staticmethod
    def _member_ids(session: Session, group_id: str) -> list[str]:
        query = select(GroupMembership.user_id).where(GroupMembership.group_id == group_id)
        return sorted(session.scalars(query))

    def add_member(self, group_id: str, user_id: str) -> None:
        with self.db.writer() as session:
            self.get_group_row(session, group_id)
            self.core.get_user(session, user_id)
            if session.get(GroupMembership, (group_id, user_id)) is None:
                session.add(GroupMembership(group_id=group_id, user_id=user_id))

    def check_member(self, group_id: str, user_id: str) -> None:
        with self.db.reader() as session:
            self.get_group_row(session, group_id)
            self.core.get_user(session, user_id)
            if session.get(GroupMembership, (group_id, user_id)) is None:
                raise NotFound(f"User {user_id} is not a member of group {group_id}.")

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self.db.writer() as session:
            self.get_group_row(session, group_id)
            membership = session.get(GroupMembership, (group_id, user_id))
            if membership is None:
                raise NotFound(f"User {user_id} is not a member of group {group_id}.")
            session.delete(membership)
            self.core.revocations.revoke(session, user_id=user_id)

    def list_members(self, group_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self.get_group_row(session, group_id)
            users = []
            for user_id in self._member_ids(session, group_id):
                found = self.core.find_user_by_id(session, user_id)
                if found is not None:
                    users.append(user_entity(found[0]))
            return sorted(users, key=lambda user: (user["name"], user["id"]))

    def list_user_groups(self, user_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self.core.get_user(session, user_id)
            query = select(Group).where(Group.id.in_(self.core.group_ids_of(user_id))).order_by(Group.name)
            return [group_entity(g) for g in session.scalars(query)]

    # Grants -------------------------------------------------------------------------------------------
    def grant(self, target: GrantTarget, group_id: str, role_id: str) -> None:
        with self.db.writer() as session:
            self._check_target_exists(session, target, group_id)
            self.core.get_role(session, role_id)
            add_grant(session, GroupRoleAssignment, group_id, target, role_id)

    def check_grant(self, target: GrantTarget, group_id: str, role_id: str) -> None:
        with self.db.reader() as session:
            self._check_target_exists(session, target, group_id)
            self.core.get_role(session, role_id)
            get_grant(session, GroupRoleAssignment, group_id, target, role_id)

    def revoke_grant(self, target: GrantTarget, group_id: str, role_id: str) -> None:
        with self.db.writer() as session:
            session.delete(get_grant(session, GroupRoleAssignment, group_id, target, role_id))
            for user_id in self._member_ids(session, group_id):
                self.core.revocations.revoke(session, user_id=user_id, **target.revocation_scope)

    def list_grants(self, target: GrantTarget, group_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self._check_target_exists(session, target, group_id)
            role_ids = select(GroupRoleAssignment.role_id).where(
                GroupRoleAssignment.group_id == group_id, target.matches(GroupRoleAssignment)
            )
            query = select(Role).where(Role.id.in_(role_ids)).order_by(Role.name)
            return [role_entity(r) for r in session.scalars(query)]

    def _check_target_exists(self, session: Session, target: GrantTarget, group_id: str) -> None:
        self.core.check_grant_target(session, target)
        self.get_group_row(session, group_id)
