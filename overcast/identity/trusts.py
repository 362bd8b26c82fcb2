"""OS-TRUST: a trustor lets a trustee act on one project with a subset of the trustor's roles there,
as the trustor (impersonation) or as the trustee, until the trust expires, runs out of uses or is
deleted. Deleting a trust revokes the tokens made from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overcast.db.models.identity import Project, Role, Trust
from overcast.errors import BadRequest, Forbidden, NotFound, Unauthorized
from overcast.identity.backends import UserRecord
from overcast.identity.core import IdentityCore
from overcast.identity.entities import isotime

Entity = dict[str, Any]


@dataclass(frozen=True)
class TrustRedemption:
    """What a trust-scoped token carries."""

    trust_id: str
    user: UserRecord  # the trustor when impersonating, else the trustee
    project: Project
    role_names: tuple[str, ...]
    expires_at: datetime | None


def trust_entity(session: Session, trust: Trust) -> Entity:
    roles = session.scalars(select(Role).where(Role.id.in_(trust.role_ids)).order_by(Role.name))
    return {
        "id": trust.id,
        "trustor_user_id": trust.trustor_user_id,
        "trustee_user_id": trust.trustee_user_id,
        "project_id": trust.project_id,
        "impersonation": trust.impersonation,
        "expires_at": isotime(trust.expires_at),
        "remaining_uses": trust.remaining_uses,
        "allow_redelegation": trust.allow_redelegation,
        "redelegation_count": 0,
        "roles": [{"id": role.id, "name": role.name, "domain_id": None} for role in roles],
    }


class TrustAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    def create(self, caller_id: str, fields: dict[str, Any]) -> Entity:
        if fields.get("trustor_user_id") != caller_id:
            raise Forbidden("The authenticated user should match the trustor.")
        impersonation = fields.get("impersonation")
        if not isinstance(impersonation, bool):
            raise BadRequest(
                "Invalid input for field 'impersonation': 'impersonation' is a required boolean."
            )
        remaining_uses = fields.get("remaining_uses")
        if remaining_uses is not None and (
            isinstance(remaining_uses, bool) or not isinstance(remaining_uses, int) or remaining_uses < 1
        ):
            raise BadRequest("Invalid input for field 'remaining_uses': a positive integer or null.")
        expires_at = fields.get("expires_at")
        if expires_at is not None and expires_at <= self.core.clock():
            raise BadRequest("Invalid input for field 'expires_at': the trust would already have expired.")
        with self.db.writer() as session:
            trustee_id = str(fields.get("trustee_user_id") or "")
            if self.core.find_user_by_id(session, trustee_id) is None:
                raise NotFound(f"Could not find user: {trustee_id}.")
            project_id = fields.get("project_id")
            role_ids: list[str] = []
            if project_id:
                self.core.get_project(session, project_id)
                held = self.core.effective_role_ids(session, caller_id, "project", project_id)
                role_ids = [self._role_id(session, ref) for ref in fields.get("roles") or []]
                if not role_ids:
                    raise BadRequest("At least one role should be specified.")
                missing = [role_id for role_id in role_ids if role_id not in held]
                if missing:
                    raise Forbidden(f"The trustor does not hold role {missing[0]} on project {project_id}.")
            elif fields.get("roles"):
                raise BadRequest("Roles may only be delegated on a project.")
            trust = Trust(
                trustor_user_id=caller_id,
                trustee_user_id=trustee_id,
                project_id=project_id or None,
                impersonation=impersonation,
                expires_at=expires_at,
                remaining_uses=remaining_uses,
                allow_redelegation=bool(fields.get("allow_redelegation", False)),
                role_ids=list(dict.fromkeys(role_ids)),
            )
            session.add(trust)
            session.flush()
            return trust_entity(session, trust)

    def list_trusts(self, trustor_user_id: str | None, trustee_user_id: str | None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(Trust).order_by(Trust.created_at, Trust.id)
            if trustor_user_id is not None:
                query = query.where(Trust.trustor_user_id == trustor_user_id)
            if trustee_user_id is not None:
                query = query.where(Trust.trustee_user_id == trustee_user_id)
            now = self.core.clock()
            query = query.where(or_(Trust.expires_at.is_(None), Trust.expires_at > now))
            return [trust_entity(session, trust) for trust in session.scalars(query)]

    def get(self, trust_id: str) -> Entity:
        with self.db.reader() as session:
            return trust_entity(session, self._trust(session, trust_id))

    def parties(self, trust_id: str) -> dict[str, str | None]:
        """Who may see or delete the trust (the policy target); nobody's when there is no such trust."""
        with self.db.reader() as session:
            trust = session.get(Trust, trust_id)
            if trust is None:
                return {"trustor_user_id": None, "trustee_user_id": None}
            return {"trustor_user_id": trust.trustor_user_id, "trustee_user_id": trust.trustee_user_id}

    def delete(self, trust_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._trust(session, trust_id))
            self.core.revocations.revoke(session, trust_id=trust_id)

    def role(self, trust_id: str, role_id: str) -> Entity:
        trust = self.get(trust_id)
        for role in trust["roles"]:
            if role["id"] == role_id:
                return dict(role)
        raise NotFound(f"Could not find role {role_id} in trust {trust_id}.")

    def redeem(self, trust_id: str, trustee: UserRecord) -> TrustRedemption:
        """Check the trust for its trustee, take one of its uses, and say what the token carries.

        The trustor must still hold every delegated role: a trust never outlives the rights behind it.
        """
        with self.db.writer() as session:
            trust = session.get(Trust, trust_id)
            if trust is None:
                raise NotFound(f"Could not find trust: {trust_id}.")
            if trust.trustee_user_id != trustee.id:
                raise Forbidden("The user is not the trustee of this trust.")
            if trust.expires_at is not None and trust.expires_at <= self.core.clock():
                raise NotFound(f"Could not find trust: {trust_id}.")
            if trust.remaining_uses is not None:
                if trust.remaining_uses <= 0:
                    raise NotFound(f"Could not find trust: {trust_id}.")
                trust.remaining_uses -= 1
            found = self.core.find_user_by_id(session, trust.trustor_user_id)
            if found is None or not found[0].enabled or trust.project_id is None:
                raise Forbidden("The trustor is gone or disabled, or the trust names no project.")
            project = self.core.get_project(session, trust.project_id)
            held = self.core.effective_role_ids(session, trust.trustor_user_id, "project", project.id)
            if not set(trust.role_ids) <= held:
                raise Forbidden("The trustor no longer holds the roles the trust delegates.")
            role_ids = self.core.implied_closure(session, trust.role_ids)
            names = tuple(sorted(session.scalars(select(Role.name).where(Role.id.in_(role_ids)))))
            user = found[0] if trust.impersonation else trustee
            return TrustRedemption(trust.id, user, project, names, trust.expires_at)

    def token_view(self, trust_id: str, session: Session) -> Entity:
        """The `OS-TRUST:trust` object of a token made from the trust."""
        trust = session.get(Trust, trust_id)
        if trust is None:
            raise Unauthorized("The trust of this token is gone.")
        return {
            "id": trust.id,
            "impersonation": trust.impersonation,
            "trustee_user": {"id": trust.trustee_user_id},
            "trustor_user": {"id": trust.trustor_user_id},
        }

    @staticmethod
    def _trust(session: Session, trust_id: str) -> Trust:
        trust = session.get(Trust, trust_id)
        if trust is None:
            raise NotFound(f"Could not find trust: {trust_id}.")
        return trust

    @staticmethod
    def _role_id(session: Session, ref: Any) -> str:
        if isinstance(ref, dict) and ref.get("id"):
            role = session.get(Role, ref["id"])
        elif isinstance(ref, dict) and ref.get("name"):
            role = session.scalars(select(Role).where(Role.name == ref["name"])).first()
        else:
            raise BadRequest('Invalid input for field \'roles\': each role is {"id": ...} or {"name": ...}.')
        if role is None:
            raise NotFound(f"Could not find role: {ref.get('id') or ref.get('name')}.")
        return role.id
