"""What the identity policy rules compare, read before an operation runs: the domain a project, user
or group lives in, and for a grant the domains of its target and of its holder and the role's name.

Something that does not exist gives None, which no domain manager's rule matches: the caller gets a
403, or (an admin) the operation's own 404.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from overcast.db.models.identity import Group, Project, Role
from overcast.identity.core import IdentityCore
from overcast.identity.grants import GrantTarget


class PolicyTargets:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def project(self, project_id: str) -> dict[str, Any]:
        with self.core.db.reader() as session:
            return {"project_id": project_id, "domain_id": self._project_domain(session, project_id)}

    def user(self, user_id: str) -> dict[str, Any]:
        with self.core.db.reader() as session:
            return {"user_id": user_id, "domain_id": self._user_domain(session, user_id)}

    def grant(self, target: GrantTarget, actors: str, actor_id: str, role_id: str) -> dict[str, Any]:
        with self.core.db.reader() as session:
            if target.kind == "project":
                domain_id = self._project_domain(session, target.id)
            elif target.kind == "domain":
                domain_id = target.id
            else:
                domain_id = None
            if actors == "users":
                actor_domain_id = self._user_domain(session, actor_id)
            else:
                group = session.get(Group, actor_id)
                actor_domain_id = group.domain_id if group is not None else None
            role = session.get(Role, role_id)
            return {
                "target_kind": target.kind,
                "domain_id": domain_id,
                "actor_domain_id": actor_domain_id,
                "role_name": role.name if role is not None else None,
            }

    @staticmethod
    def _project_domain(session: Session, project_id: str) -> str | None:
        project = session.get(Project, project_id)
        return project.domain_id if project is not None else None

    def _user_domain(self, session: Session, user_id: str) -> str | None:
        found = self.core.find_user_by_id(session, user_id)
        return found[0].domain_id if found is not None else None
