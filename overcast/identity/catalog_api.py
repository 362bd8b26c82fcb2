"""The writable catalog: /v3/services and /v3/endpoints, as Keystone serves them.

Tokens carry the enabled services and endpoints (`catalog.CatalogCache`): every change here empties this
process's cache at once, other API processes read the table again within their refresh interval.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast.db.models.identity import CatalogEndpoint, CatalogService, Region
from overcast.errors import BadRequest, NotFound
from overcast.identity.core import IdentityCore

Entity = dict[str, Any]
INTERFACES = ("public", "internal", "admin")


def service_entity(service: CatalogService) -> Entity:
    return {
        "id": service.id,
        "type": service.type,
        "name": service.name,
        "description": service.description,
        "enabled": service.enabled,
    }


def endpoint_entity(endpoint: CatalogEndpoint) -> Entity:
    return {
        "id": endpoint.id,
        "service_id": endpoint.service_id,
        "interface": endpoint.interface,
        "region": endpoint.region_id,
        "region_id": endpoint.region_id,
        "url": endpoint.url,
        "enabled": endpoint.enabled,
    }


class CatalogAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    # Services -----------------------------------------------------------------------------------------
    def list_services(self, service_type: str | None = None, name: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(CatalogService).order_by(
                CatalogService.type, CatalogService.name, CatalogService.id
            )
            if service_type is not None:
                query = query.where(CatalogService.type == service_type)
            if name is not None:
                query = query.where(CatalogService.name == name)
            return [service_entity(s) for s in session.scalars(query)]

    def get_service(self, service_id: str) -> Entity:
        with self.db.reader() as session:
            return service_entity(self._service(session, service_id))

    def create_service(self, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            service = CatalogService(
                type=fields["type"],
                name=fields.get("name") or "",
                description=fields.get("description") or "",
                enabled=fields.get("enabled", True),
            )
            session.add(service)
            session.flush()
            entity = service_entity(service)
        self.core.catalog.invalidate()
        return entity

    def update_service(self, service_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            service = self._service(session, service_id)
            for key in ("type", "name", "description", "enabled"):
                if key in fields:
                    value = fields[key]
                    setattr(service, key, "" if value is None and key in ("name", "description") else value)
            session.flush()
            entity = service_entity(service)
        self.core.catalog.invalidate()
        return entity

    def delete_service(self, service_id: str) -> None:
        """The service and its endpoints, as Keystone deletes them."""
        with self.db.writer() as session:
            service = self._service(session, service_id)
            session.execute(delete(CatalogEndpoint).where(CatalogEndpoint.service_id == service_id))
            session.delete(service)
        self.core.catalog.invalidate()

    @staticmethod
    def _service(session: Session, service_id: str) -> CatalogService:
        service = session.get(CatalogService, service_id)
        if service is None:
            raise NotFound(f"Could not find service: {service_id}.")
        return service

    # Endpoints ----------------------------------------------------------------------------------------
    def list_endpoints(
        self, interface: str | None = None, service_id: str | None = None, region_id: str | None = None
    ) -> list[Entity]:
        with self.db.reader() as session:
            query = select(CatalogEndpoint).order_by(CatalogEndpoint.service_id, CatalogEndpoint.id)
            if interface is not None:
                query = query.where(CatalogEndpoint.interface == interface)
            if service_id is not None:
                query = query.where(CatalogEndpoint.service_id == service_id)
            if region_id is not None:
                query = query.where(CatalogEndpoint.region_id == region_id)
            return [endpoint_entity(e) for e in session.scalars(query)]

    def get_endpoint(self, endpoint_id: str) -> Entity:
        with self.db.reader() as session:
            return endpoint_entity(self._endpoint(session, endpoint_id))

    def create_endpoint(self, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            self._check(session, fields)
            endpoint = CatalogEndpoint(
                service_id=fields["service_id"],
                interface=fields["interface"],
                region_id=fields.get("region_id"),
                url=fields["url"],
                enabled=fields.get("enabled", True),
            )
            session.add(endpoint)
            session.flush()
            entity = endpoint_entity(endpoint)
        self.core.catalog.invalidate()
        return entity

    def update_endpoint(self, endpoint_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            endpoint = self._endpoint(session, endpoint_id)
            self._check(session, fields)
            for key in ("service_id", "interface", "region_id", "url", "enabled"):
                if key in fields:
                    setattr(endpoint, key, fields[key])
            session.flush()
            entity = endpoint_entity(endpoint)
        self.core.catalog.invalidate()
        return entity

    def delete_endpoint(self, endpoint_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._endpoint(session, endpoint_id))
        self.core.catalog.invalidate()

    @staticmethod
    def _endpoint(session: Session, endpoint_id: str) -> CatalogEndpoint:
        endpoint = session.get(CatalogEndpoint, endpoint_id)
        if endpoint is None:
            raise NotFound(f"Could not find endpoint: {endpoint_id}.")
        return endpoint

    def _check(self, session: Session, fields: dict[str, Any]) -> None:
        """What an endpoint names must exist: its service (404) and its region (400, as Keystone)."""
        if fields.get("interface") is not None and fields["interface"] not in INTERFACES:
            raise BadRequest(
                f"Invalid input for field 'interface': {fields['interface']!r} is not one of {INTERFACES}."
            )
        if fields.get("service_id") is not None:
            self._service(session, fields["service_id"])
        region_id = fields.get("region_id")
        if region_id is not None and session.get(Region, region_id) is None:
            raise BadRequest(f"Region {region_id} not found.")
