"""Implied roles (Keystone's role inference rules): holding a prior role gives the roles it implies,
in tokens and effective role assignments.

Changing a rule changes what existing tokens should carry, so it revokes the tokens of every holder of
the prior role (and of the roles that imply it), as renaming or deleting a role does.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import (
    GroupMembership,
    GroupRoleAssignment,
    ImpliedRole,
    Role,
    RoleAssignment,
)
from overcast.errors import Conflict, Forbidden, NotFound
from overcast.identity.core import IdentityCore

Entity = dict[str, Any]
# Keystone's [assignment] prohibited_implied_role default: no rule may hand out admin.
PROHIBITED_IMPLIED_ROLES = ("admin",)


def role_ref(role: Role) -> Entity:
    return {"id": role.id, "name": role.name}


class ImpliedRoleAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    def create(self, prior_role_id: str, implied_role_id: str) -> Entity:
        with self.db.writer() as session:
            prior = self.core.get_role(session, prior_role_id)
            implied = self.core.get_role(session, implied_role_id)
            if implied.name in PROHIBITED_IMPLIED_ROLES:
                raise Forbidden(f"{implied.id} cannot be an implied roles.")
            if session.get(ImpliedRole, (prior.id, implied.id)) is not None:
                raise Conflict(
                    f"Conflict occurred attempting to store implied_role - {prior.id} implies {implied.id}."
                )
            session.add(ImpliedRole(prior_role_id=prior.id, implied_role_id=implied.id))
            self._revoke_holders_of(session, prior.id)
            return {"prior_role": role_ref(prior), "implies": role_ref(implied)}

    def get(self, prior_role_id: str, implied_role_id: str) -> Entity:
        with self.db.reader() as session:
            prior, implied = self._rule(session, prior_role_id, implied_role_id)
            return {"prior_role": role_ref(prior), "implies": role_ref(implied)}

    def delete(self, prior_role_id: str, implied_role_id: str) -> None:
        with self.db.writer() as session:
            self._rule(session, prior_role_id, implied_role_id)
            row = session.get(ImpliedRole, (prior_role_id, implied_role_id))
            session.delete(row)
            self._revoke_holders_of(session, prior_role_id)

    def list_implied(self, prior_role_id: str) -> Entity:
        """The roles one role implies directly: GET /v3/roles/{prior}/implies."""
        with self.db.reader() as session:
            prior = self.core.get_role(session, prior_role_id)
            return {"prior_role": role_ref(prior), "implies": self._implied_by(session).get(prior.id, [])}

    def list_all(self) -> list[Entity]:
        """Every rule, grouped by prior role: GET /v3/role_inferences."""
        with self.db.reader() as session:
            implied_by = self._implied_by(session)
            priors = session.scalars(select(Role).where(Role.id.in_(implied_by)).order_by(Role.name))
            return [{"prior_role": role_ref(prior), "implies": implied_by[prior.id]} for prior in priors]

    @staticmethod
    def _implied_by(session: Session) -> dict[str, list[Entity]]:
        query = (
            select(ImpliedRole.prior_role_id, Role)
            .join(Role, Role.id == ImpliedRole.implied_role_id)
            .order_by(Role.name)
        )
        implied_by: dict[str, list[Entity]] = {}
        for prior_id, implied in session.execute(query):
            implied_by.setdefault(prior_id, []).append(role_ref(implied))
        return implied_by

    def _rule(self, session: Session, prior_role_id: str, implied_role_id: str) -> tuple[Role, Role]:
        prior = self.core.get_role(session, prior_role_id)
        implied = self.core.get_role(session, implied_role_id)
        if session.get(ImpliedRole, (prior.id, implied.id)) is None:
            raise NotFound(f"{prior.id} does not imply {implied.id}.")
        return prior, implied

    def _revoke_holders_of(self, session: Session, role_id: str) -> None:
        """Tokens list implied roles by name: whoever holds the role, or one implying it, needs a new one."""
        priors = {role_id}
        rules = [
            (row[0], row[1])
            for row in session.execute(select(ImpliedRole.prior_role_id, ImpliedRole.implied_role_id))
        ]
        grew = True
        while grew:
            more = {prior for prior, implied in rules if implied in priors}
            grew = not more <= priors
            priors |= more
        direct = select(RoleAssignment.user_id).where(RoleAssignment.role_id.in_(priors))
        groups = select(GroupRoleAssignment.group_id).where(GroupRoleAssignment.role_id.in_(priors))
        members = select(GroupMembership.user_id).where(GroupMembership.group_id.in_(groups))
        for user_id in sorted(set(session.scalars(direct)) | set(session.scalars(members))):
            self.core.revocations.revoke(session, user_id=user_id)
