"""GET /v3/role_assignments: who holds which role where, optionally with names and implied roles."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import Domain, Project, Role, RoleAssignment
from overcast.identity.core import IdentityCore


@dataclass(frozen=True)
class AssignmentFilter:
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    role_id: str | None = None
    effective: bool = False
    include_names: bool = False


class AssignmentLister:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def find(self, wanted: AssignmentFilter) -> list[dict[str, Any]]:
        with self.core.db.reader() as session:
            query = select(RoleAssignment)
            if wanted.user_id:
                query = query.where(RoleAssignment.user_id == wanted.user_id)
            if wanted.project_id:
                query = query.where(
                    RoleAssignment.target_type == "project", RoleAssignment.target_id == wanted.project_id
                )
            if wanted.domain_id:
                query = query.where(
                    RoleAssignment.target_type == "domain", RoleAssignment.target_id == wanted.domain_id
                )
            rows = [(a.user_id, a.target_type, a.target_id, a.role_id) for a in session.scalars(query)]
            if wanted.effective:
                rows = self._with_implied(session, rows)
            if wanted.role_id:
                rows = [row for row in rows if row[3] == wanted.role_id]
            rows.sort()
            return [self._render(session, row, wanted.include_names) for row in rows]

    def _with_implied(
        self, session: Session, rows: list[tuple[str, str, str, str]]
    ) -> list[tuple[str, str, str, str]]:
        expanded: set[tuple[str, str, str, str]] = set()
        for user_id, target_type, target_id, role_id in rows:
            for implied in self.core.implied_closure(session, [role_id]):
                expanded.add((user_id, target_type, target_id, implied))
        return list(expanded)

    def _render(self, session: Session, row: tuple[str, str, str, str], names: bool) -> dict[str, Any]:
        user_id, target_type, target_id, role_id = row
        role: dict[str, Any] = {"id": role_id}
        user: dict[str, Any] = {"id": user_id}
        target: dict[str, Any] = {"id": target_id}
        if names:
            role_row = session.get(Role, role_id)
            role["name"] = role_row.name if role_row else None
            found = self.core.find_user_by_id(session, user_id)
            if found is not None:
                user["name"] = found[0].name
                user["domain"] = self._domain_ref(session, found[0].domain_id)
            if target_type == "project":
                project = session.get(Project, target_id)
                if project is not None:
                    target["name"] = project.name
                    target["domain"] = self._domain_ref(session, project.domain_id)
            else:
                domain = session.get(Domain, target_id)
                target["name"] = domain.name if domain else None
        path = f"/{target_type}s/{target_id}/users/{user_id}/roles/{role_id}"
        return {"role": role, "user": user, "scope": {target_type: target}, "links": {"assignment": path}}

    @staticmethod
    def _domain_ref(session: Session, domain_id: str) -> dict[str, Any]:
        domain = session.get(Domain, domain_id)
        return {"id": domain_id, "name": domain.name if domain else None}
