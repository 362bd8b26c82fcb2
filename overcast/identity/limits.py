"""Unified limits: registered limits (a resource's default for every project, per service and region)
and project or domain limits (one project's own), as Keystone serves them to services such as Nova.

The enforcement model is Keystone's default, flat: a project's limit stands alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import CatalogService, ProjectLimit, Region, RegisteredLimit
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound
from overcast.identity.core import IdentityCore

Entity = dict[str, Any]
LIMIT_MODEL = {
    "name": "flat",
    "description": "Limit enforcement and validation does not take project hierarchy into consideration.",
}


def _region(value: str) -> str | None:
    return value or None


def registered_limit_entity(limit: RegisteredLimit) -> Entity:
    return {
        "id": limit.id,
        "service_id": limit.service_id,
        "region_id": _region(limit.region_id),
        "resource_name": limit.resource_name,
        "default_limit": limit.default_limit,
        "description": limit.description or None,
    }


def limit_entity(limit: ProjectLimit) -> Entity:
    return {
        "id": limit.id,
        "project_id": None if limit.domain_limit else limit.target_id,
        "domain_id": limit.target_id if limit.domain_limit else None,
        "service_id": limit.service_id,
        "region_id": _region(limit.region_id),
        "resource_name": limit.resource_name,
        "resource_limit": limit.resource_limit,
        "description": limit.description or None,
    }


def _check_value(name: str, value: Any) -> int:
    # Keystone: an integer from -1 (unlimited) up to 2**31 - 1; a boolean is no integer.
    if isinstance(value, bool) or not isinstance(value, int) or not -1 <= value <= 2**31 - 1:
        raise BadRequest(f"Invalid input for field '{name}': an integer from -1 to 2147483647.")
    return value


class LimitAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    # Registered limits --------------------------------------------------------------------------------
    def list_registered(self, filters: dict[str, str | None]) -> list[Entity]:
        with self.db.reader() as session:
            query = select(RegisteredLimit).order_by(RegisteredLimit.resource_name, RegisteredLimit.id)
            for key in ("service_id", "resource_name"):
                if filters.get(key) is not None:
                    query = query.where(getattr(RegisteredLimit, key) == filters[key])
            if filters.get("region_id") is not None:
                query = query.where(RegisteredLimit.region_id == filters["region_id"])
            return [registered_limit_entity(r) for r in session.scalars(query)]

    def get_registered(self, limit_id: str) -> Entity:
        with self.db.reader() as session:
            return registered_limit_entity(self._registered(session, limit_id))

    def create_registered(self, items: list[dict[str, Any]]) -> list[Entity]:
        """All of them or none (one transaction), as Keystone creates a batch."""
        with self.db.writer() as session:
            created = []
            for item in items:
                service_id, region_id, resource_name = self._reference(session, item)
                if self._find_registered(session, service_id, region_id, resource_name) is not None:
                    raise Conflict(
                        f"Duplicate entry: registered limit of {resource_name} for service {service_id}."
                    )
                limit = RegisteredLimit(
                    service_id=service_id,
                    region_id=region_id,
                    resource_name=resource_name,
                    default_limit=_check_value("default_limit", item.get("default_limit")),
                    description=item.get("description") or "",
                )
                session.add(limit)
                session.flush()
                created.append(registered_limit_entity(limit))
            return created

    def update_registered(self, limit_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            limit = self._registered(session, limit_id)
            moves = any(key in fields for key in ("service_id", "region_id", "resource_name"))
            if moves:
                if self._referenced(session, limit):
                    raise Forbidden("Cannot update a registered limit that project limits refer to.")
                merged = {**registered_limit_entity(limit), **fields}
                limit.service_id, limit.region_id, limit.resource_name = self._reference(session, merged)
            if "default_limit" in fields:
                limit.default_limit = _check_value("default_limit", fields["default_limit"])
            if "description" in fields:
                limit.description = fields["description"] or ""
            session.flush()
            return registered_limit_entity(limit)

    def delete_registered(self, limit_id: str) -> None:
        with self.db.writer() as session:
            limit = self._registered(session, limit_id)
            if self._referenced(session, limit):
                raise Forbidden("Cannot delete a registered limit that project limits refer to.")
            session.delete(limit)

    # Project and domain limits ------------------------------------------------------------------------
    def list_limits(self, filters: dict[str, str | None]) -> list[Entity]:
        with self.db.reader() as session:
            query = select(ProjectLimit).order_by(ProjectLimit.resource_name, ProjectLimit.id)
            for key in ("service_id", "resource_name", "region_id"):
                if filters.get(key) is not None:
                    query = query.where(getattr(ProjectLimit, key) == filters[key])
            if filters.get("project_id") is not None:
                query = query.where(
                    ProjectLimit.target_id == filters["project_id"], ProjectLimit.domain_limit.is_(False)
                )
            if filters.get("domain_id") is not None:
                query = query.where(
                    ProjectLimit.target_id == filters["domain_id"], ProjectLimit.domain_limit.is_(True)
                )
            return [limit_entity(row) for row in session.scalars(query)]

    def get_limit(self, limit_id: str) -> Entity:
        with self.db.reader() as session:
            return limit_entity(self._limit(session, limit_id))

    def create_limits(self, items: list[dict[str, Any]]) -> list[Entity]:
        with self.db.writer() as session:
            created = []
            for item in items:
                project_id, domain_id = item.get("project_id"), item.get("domain_id")
                if bool(project_id) == bool(domain_id):
                    raise BadRequest("A limit names a project_id or a domain_id (one of them).")
                if project_id:
                    self.core.get_project(session, project_id)
                else:
                    self.core.get_domain(session, str(domain_id))
                service_id, region_id, resource_name = self._reference(session, item)
                if self._find_registered(session, service_id, region_id, resource_name) is None:
                    raise Forbidden(
                        f"No registered limit of {resource_name} for service {service_id} to refer to."
                    )
                target = project_id or domain_id
                duplicate = select(ProjectLimit.id).where(
                    ProjectLimit.target_id == target,
                    ProjectLimit.service_id == service_id,
                    ProjectLimit.region_id == region_id,
                    ProjectLimit.resource_name == resource_name,
                )
                if session.scalars(duplicate).first() is not None:
                    raise Conflict(f"Duplicate entry: limit of {resource_name} for {target}.")
                limit = ProjectLimit(
                    target_id=target,
                    domain_limit=not project_id,
                    service_id=service_id,
                    region_id=region_id,
                    resource_name=resource_name,
                    resource_limit=_check_value("resource_limit", item.get("resource_limit")),
                    description=item.get("description") or "",
                )
                session.add(limit)
                session.flush()
                created.append(limit_entity(limit))
            return created

    def update_limit(self, limit_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            limit = self._limit(session, limit_id)
            if "resource_limit" in fields:
                limit.resource_limit = _check_value("resource_limit", fields["resource_limit"])
            if "description" in fields:
                limit.description = fields["description"] or ""
            session.flush()
            return limit_entity(limit)

    def delete_limit(self, limit_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._limit(session, limit_id))

    # Lookups ------------------------------------------------------------------------------------------
    @staticmethod
    def _reference(session: Session, item: dict[str, Any]) -> tuple[str, str, str]:
        service_id, resource_name = item.get("service_id"), item.get("resource_name")
        region_id = item.get("region_id") or ""
        if not isinstance(service_id, str) or not isinstance(resource_name, str) or not resource_name:
            raise BadRequest("Invalid input: service_id and resource_name are required strings.")
        if session.get(CatalogService, service_id) is None:
            raise BadRequest(f"Invalid input for field 'service_id': service {service_id} not found.")
        if region_id and session.get(Region, region_id) is None:
            raise BadRequest(f"Invalid input for field 'region_id': region {region_id} not found.")
        return service_id, region_id, resource_name

    @staticmethod
    def _find_registered(
        session: Session, service_id: str, region_id: str, resource_name: str
    ) -> RegisteredLimit | None:
        query = select(RegisteredLimit).where(
            RegisteredLimit.service_id == service_id,
            RegisteredLimit.region_id == region_id,
            RegisteredLimit.resource_name == resource_name,
        )
        return session.scalars(query).first()

    @staticmethod
    def _referenced(session: Session, limit: RegisteredLimit) -> bool:
        query = select(ProjectLimit.id).where(
            ProjectLimit.service_id == limit.service_id,
            ProjectLimit.region_id == limit.region_id,
            ProjectLimit.resource_name == limit.resource_name,
        )
        return session.scalars(query).first() is not None

    @staticmethod
    def _registered(session: Session, limit_id: str) -> RegisteredLimit:
        limit = session.get(RegisteredLimit, limit_id)
        if limit is None:
            raise NotFound(f"Could not find registered limit for {limit_id}.")
        return limit

    @staticmethod
    def _limit(session: Session, limit_id: str) -> ProjectLimit:
        limit = session.get(ProjectLimit, limit_id)
        if limit is None:
            raise NotFound(f"Could not find limit for {limit_id}.")
        return limit
