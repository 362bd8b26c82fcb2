"""OS-EP-FILTER: endpoint groups (endpoints named by filters) and the endpoints and groups associated
with a project. A project with associations sees only those endpoints in its tokens' catalog."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import (
    CatalogEndpoint,
    EndpointGroup,
    Project,
    ProjectEndpoint,
    ProjectEndpointGroup,
)
from overcast.errors import BadRequest, NotFound
from overcast.identity.catalog_api import endpoint_entity
from overcast.identity.core import IdentityCore
from overcast.identity.entities import project_entity

Entity = dict[str, Any]
FILTER_KEYS = ("interface", "service_id", "region_id")


def endpoint_group_entity(group: EndpointGroup) -> Entity:
    return {
        "id": group.id,
        "name": group.name,
        "description": group.description,
        "filters": dict(group.filters),
    }


def check_filters(filters: Any) -> dict[str, str]:
    if not isinstance(filters, dict) or not filters:
        raise BadRequest(
            "Invalid input for field 'filters': an object naming interface, service_id or region_id."
        )
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise BadRequest(f"Invalid input for field 'filters': unknown filter {', '.join(unknown)}.")
    if not all(isinstance(value, str) for value in filters.values()):
        raise BadRequest("Invalid input for field 'filters': filter values are strings.")
    return dict(filters)


def _matches(endpoint: CatalogEndpoint, filters: dict[str, str]) -> bool:
    return all(getattr(endpoint, key) == value for key, value in filters.items())


class EndpointFilterAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    # Endpoint groups ----------------------------------------------------------------------------------
    def list_groups(self, name: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(EndpointGroup).order_by(EndpointGroup.name, EndpointGroup.id)
            if name is not None:
                query = query.where(EndpointGroup.name == name)
            return [endpoint_group_entity(g) for g in session.scalars(query)]

    def get_group(self, group_id: str) -> Entity:
        with self.db.reader() as session:
            return endpoint_group_entity(self._group(session, group_id))

    def create_group(self, fields: dict[str, Any]) -> Entity:
        filters = check_filters(fields.get("filters"))
        with self.db.writer() as session:
            group = EndpointGroup(name=fields["name"], description=fields.get("description"), filters=filters)
            session.add(group)
            session.flush()
            entity = endpoint_group_entity(group)
        self.core.catalog.invalidate()
        return entity

    def update_group(self, group_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            group = self._group(session, group_id)
            if "filters" in fields:
                group.filters = check_filters(fields["filters"])
            if fields.get("name") is not None:
                group.name = fields["name"]
            if "description" in fields:
                group.description = fields["description"]
            session.flush()
            entity = endpoint_group_entity(group)
        self.core.catalog.invalidate()
        return entity

    def delete_group(self, group_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._group(session, group_id))
        self.core.catalog.invalidate()

    def group_endpoints(self, group_id: str) -> list[Entity]:
        with self.db.reader() as session:
            filters = self._group(session, group_id).filters
            endpoints = session.scalars(select(CatalogEndpoint).order_by(CatalogEndpoint.id))
            return [endpoint_entity(e) for e in endpoints if _matches(e, filters)]

    @staticmethod
    def _group(session: Session, group_id: str) -> EndpointGroup:
        group = session.get(EndpointGroup, group_id)
        if group is None:
            raise NotFound(f"Could not find endpoint group: {group_id}.")
        return group

    # Associations -------------------------------------------------------------------------------------
    def associate_endpoint(self, project_id: str, endpoint_id: str) -> None:
        with self.db.writer() as session:
            self._project_and_endpoint(session, project_id, endpoint_id)
            if session.get(ProjectEndpoint, (project_id, endpoint_id)) is None:
                session.add(ProjectEndpoint(project_id=project_id, endpoint_id=endpoint_id))

    def check_endpoint(self, project_id: str, endpoint_id: str) -> None:
        with self.db.reader() as session:
            self._project_and_endpoint(session, project_id, endpoint_id)
            if session.get(ProjectEndpoint, (project_id, endpoint_id)) is None:
                raise NotFound(f"Endpoint {endpoint_id} is not associated with project {project_id}.")

    def dissociate_endpoint(self, project_id: str, endpoint_id: str) -> None:
        with self.db.writer() as session:
            row = session.get(ProjectEndpoint, (project_id, endpoint_id))
            if row is None:
                raise NotFound(f"Endpoint {endpoint_id} is not associated with project {project_id}.")
            session.delete(row)

    def associate_group(self, group_id: str, project_id: str) -> None:
        with self.db.writer() as session:
            self._group(session, group_id)
            self.core.get_project(session, project_id)
            if session.get(ProjectEndpointGroup, (project_id, group_id)) is None:
                session.add(ProjectEndpointGroup(project_id=project_id, endpoint_group_id=group_id))

    def check_group(self, group_id: str, project_id: str) -> None:
        with self.db.reader() as session:
            self._group(session, group_id)
            self.core.get_project(session, project_id)
            if session.get(ProjectEndpointGroup, (project_id, group_id)) is None:
                raise NotFound(f"Endpoint group {group_id} is not associated with project {project_id}.")

    def dissociate_group(self, group_id: str, project_id: str) -> None:
        with self.db.writer() as session:
            row = session.get(ProjectEndpointGroup, (project_id, group_id))
            if row is None:
                raise NotFound(f"Endpoint group {group_id} is not associated with project {project_id}.")
            session.delete(row)

    def group_projects(self, group_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self._group(session, group_id)
            ids = select(ProjectEndpointGroup.project_id).where(
                ProjectEndpointGroup.endpoint_group_id == group_id
            )
            return [project_entity(p) for p in session.scalars(select(Project).where(Project.id.in_(ids)))]

    def project_groups(self, project_id: str) -> list[Entity]:
        with self.db.reader() as session:
            self.core.get_project(session, project_id)
            ids = select(ProjectEndpointGroup.endpoint_group_id).where(
                ProjectEndpointGroup.project_id == project_id
            )
            return [
                endpoint_group_entity(g)
                for g in session.scalars(select(EndpointGroup).where(EndpointGroup.id.in_(ids)))
            ]

    def endpoint_projects(self, endpoint_id: str) -> list[Entity]:
        with self.db.reader() as session:
            endpoint = session.get(CatalogEndpoint, endpoint_id)
            if endpoint is None:
                raise NotFound(f"Could not find endpoint: {endpoint_id}.")
            ids = select(ProjectEndpoint.project_id).where(ProjectEndpoint.endpoint_id == endpoint_id)
            return [project_entity(p) for p in session.scalars(select(Project).where(Project.id.in_(ids)))]

    def project_endpoints(self, project_id: str) -> list[Entity]:
        """The endpoints associated with the project, directly or through its endpoint groups."""
        with self.db.reader() as session:
            self.core.get_project(session, project_id)
            ids = self.filtered_endpoint_ids(session, project_id) or set()
            query = select(CatalogEndpoint).where(CatalogEndpoint.id.in_(ids)).order_by(CatalogEndpoint.id)
            return [endpoint_entity(e) for e in session.scalars(query)]

    @staticmethod
    def filtered_endpoint_ids(session: Session, project_id: str) -> set[str] | None:
        """The ids of the endpoints the project's catalog is limited to; None when it has no associations
        (its catalog is the whole catalog)."""
        direct = set(
            session.scalars(
                select(ProjectEndpoint.endpoint_id).where(ProjectEndpoint.project_id == project_id)
            )
        )
        group_ids = select(ProjectEndpointGroup.endpoint_group_id).where(
            ProjectEndpointGroup.project_id == project_id
        )
        groups = list(session.scalars(select(EndpointGroup).where(EndpointGroup.id.in_(group_ids))))
        if not direct and not groups:
            return None
        if groups:
            for endpoint in session.scalars(select(CatalogEndpoint)):
                if any(_matches(endpoint, group.filters) for group in groups):
                    direct.add(endpoint.id)
        return direct

    def _project_and_endpoint(self, session: Session, project_id: str, endpoint_id: str) -> None:
        self.core.get_project(session, project_id)
        if session.get(CatalogEndpoint, endpoint_id) is None:
            raise NotFound(f"Could not find endpoint: {endpoint_id}.")


def filter_catalog(session: Session, project_id: str | None, catalog: list[Entity]) -> list[Entity]:
    """A token's catalog limited to the project's endpoints, if it has associations (OS-EP-FILTER)."""
    if project_id is None:
        return catalog
    allowed = EndpointFilterAPI.filtered_endpoint_ids(session, project_id)
    if allowed is None:
        return catalog
    filtered = []
    for service in catalog:
        endpoints = [endpoint for endpoint in service["endpoints"] if endpoint["id"] in allowed]
        if endpoints:
            filtered.append({**service, "endpoints": endpoints})
    return filtered
