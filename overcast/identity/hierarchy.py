"""A project's place in its tree, as GET /v3/projects/{id} shows it on request: parents and subtree, as
lists of projects (parents_as_list, subtree_as_list) or nested ids (parents_as_ids, subtree_as_ids).

Keystone shows a caller who is no admin only the projects they hold a role on; so does this.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import Project
from overcast.identity.core import IdentityCore
from overcast.identity.entities import project_entity

Entity = dict[str, Any]


class ProjectHierarchy:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core

    def around(
        self, project_id: str, *, parents: str | None, subtree: str | None, viewer: str | None
    ) -> Entity:
        """The `parents` and `subtree` attributes asked for ("list" or "ids"); `viewer` is the user whose
        projects alone are shown (None: every project)."""
        shown: Entity = {}
        with self.core.db.reader() as session:
            project = self.core.get_project(session, project_id)
            visible = None if viewer is None else self.core.project_ids_with_roles(session, viewer)
            if parents is not None:
                ancestors = [
                    a for a in self.core.ancestor_ids(session, project) if visible is None or a in visible
                ]
                shown["parents"] = (
                    self._as_list(session, ancestors) if parents == "list" else self._chain(ancestors)
                )
            if subtree is not None:
                children = self._children(session)
                below = self._below(project.id, children, visible)
                shown["subtree"] = (
                    self._as_list(session, self._flatten(below)) if subtree == "list" else below or None
                )
        return shown

    @staticmethod
    def _as_list(session: Session, project_ids: list[str]) -> list[Entity]:
        rows = {p.id: p for p in session.scalars(select(Project).where(Project.id.in_(project_ids)))}
        return [{"project": project_entity(rows[i])} for i in project_ids if i in rows]

    @staticmethod
    def _chain(ancestors: list[str]) -> Entity | None:
        """{"parent": {"grandparent": None}}: Keystone's parents_as_ids."""
        nested: Entity | None = None
        for ancestor in reversed(ancestors):
            nested = {ancestor: nested}
        return nested

    @staticmethod
    def _children(session: Session) -> dict[str, list[str]]:
        children: dict[str, list[str]] = {}
        for project_id, parent_id in session.execute(
            select(Project.id, Project.parent_id).order_by(Project.name)
        ):
            if parent_id:
                children.setdefault(parent_id, []).append(project_id)
        return children

    def _below(self, project_id: str, children: dict[str, list[str]], visible: set[str] | None) -> Entity:
        """{"child": {"grandchild": None}}: Keystone's subtree_as_ids; hidden projects' children move up."""
        nested: Entity = {}
        for child in children.get(project_id, []):
            below = self._below(child, children, visible)
            if visible is None or child in visible:
                nested[child] = below or None
            else:
                nested.update(below)
        return nested

    def _flatten(self, nested: Entity) -> list[str]:
        flat: list[str] = []
        for project_id, below in nested.items():
            flat.append(project_id)
            flat.extend(self._flatten(below or {}))
        return flat
