"""Catalog regions: a tree (parent_region_id) that endpoints name in their region_id."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import CatalogEndpoint, Region
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound
from overcast.identity.core import IdentityCore

Entity = dict[str, Any]


def region_entity(region: Region) -> Entity:
    return {"id": region.id, "description": region.description, "parent_region_id": region.parent_region_id}


def _get_region(session: Session, region_id: str) -> Region:
    region = session.get(Region, region_id)
    if region is None:
        raise NotFound(f"Could not find region: {region_id}.")
    return region


def _check_parent(session: Session, region_id: str, parent_id: str) -> None:
    """The parent must exist, and following parents from it must never lead back to the region."""
    seen: set[str] = set()
    current: str | None = parent_id
    while current is not None and current not in seen:
        if current == region_id:
            raise BadRequest(f"Region {region_id} cannot be its own ancestor (circular region hierarchy).")
        seen.add(current)
        current = _get_region(session, current).parent_region_id


def _descendants(session: Session, region_id: str) -> list[str]:
    found: list[str] = []
    pending = [region_id]
    while pending:
        parent = pending.pop()
        children = session.scalars(select(Region.id).where(Region.parent_region_id == parent)).all()
        new = [child for child in children if child not in found]
        found.extend(new)
        pending.extend(new)
    return found


class RegionAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.core = core
        self.db = core.db

    def list_regions(self, parent_region_id: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(Region).order_by(Region.id)
            if parent_region_id is not None:
                query = query.where(Region.parent_region_id == parent_region_id)
            return [region_entity(r) for r in session.scalars(query)]

    def get_region(self, region_id: str) -> Entity:
        with self.db.reader() as session:
            return region_entity(_get_region(session, region_id))

    def create_region(self, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            region_id = fields.get("id")
            if region_id is not None and session.get(Region, region_id) is not None:
                raise Conflict(f"Duplicate entry: region {region_id} exists.")
            parent_id = fields.get("parent_region_id")
            region = Region(description=fields.get("description") or "", parent_region_id=parent_id)
            if region_id is not None:
                region.id = region_id
            if parent_id is not None:
                _check_parent(session, region_id or "", parent_id)
            session.add(region)
            session.flush()
            return region_entity(region)

    def update_region(self, region_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            region = _get_region(session, region_id)
            if fields.get("id") not in (None, region_id):
                raise BadRequest("A region's id cannot change.")
            if "parent_region_id" in fields:
                parent_id = fields["parent_region_id"]
                if parent_id is not None:
                    _check_parent(session, region_id, parent_id)
                region.parent_region_id = parent_id
            if "description" in fields:
                region.description = fields["description"] or ""
            session.flush()
            return region_entity(region)

    def delete_region(self, region_id: str) -> None:
        """Delete the region and its sub-regions, unless an endpoint is in one of them."""
        with self.db.writer() as session:
            _get_region(session, region_id)
            doomed = [region_id, *_descendants(session, region_id)]
            query = select(CatalogEndpoint.id).where(CatalogEndpoint.region_id.in_(doomed))
            if session.scalars(query).first() is not None:
                raise Forbidden(
                    f"Unable to delete region {region_id} because it or its child regions have "
                    "associated endpoints."
                )
            # Leaves first: a parent row must outlive the rows that refer to it.
            for doomed_id in reversed(doomed):
                session.delete(_get_region(session, doomed_id))
                session.flush()
