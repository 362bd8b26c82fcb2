"""Flavors: the sizes instances are built with (logic behind /compute/v2.1/flavors)."""

from __future__ import annotations

import uuid as uuid_lib
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, delete, false, or_, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.api.lookup import visible_flavor
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.aggregates import FlavorProject
from overcast.db.models.compute import Flavor
from overcast.db.pagination import paginate
from overcast.digits import DB_MAX_INT

# Nova's accepted sort keys for GET /flavors.
SORT_KEYS = ("created_at", "description", "flavorid", "id", "is_public", "memory_mb", "name",
             "root_gb", "rxtx_factor", "swap", "updated_at", "vcpus")  # fmt: skip


@dataclass(frozen=True)
class FlavorFilters:
    # None: public ones (plus, for an admin, every flavor when asked with is_public=None).
    is_public: bool | None = True
    min_ram: int | None = None
    min_disk: int | None = None
    sort_key: str = "flavorid"
    sort_dir: str = "asc"
    marker: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class FlavorCreate:
    name: str
    ram: int
    vcpus: int
    disk: int
    flavorid: str | None = None
    ephemeral: int = 0
    swap: int = 0
    rxtx_factor: float = 1.0
    is_public: bool = True
    description: str | None = None


def _shared_with(ctxt: RequestContext) -> ColumnElement[bool]:
    """The flavor is on the caller's project's access list (os-flavor-access)."""
    return Flavor.id.in_(select(FlavorProject.flavor_id).where(FlavorProject.project_id == ctxt.project_id))


class FlavorAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    def list(self, ctxt: RequestContext, filters: FlavorFilters) -> list[Flavor]:
        if filters.sort_key not in SORT_KEYS:
            raise errors.BadRequest(f"Invalid sort key: {filters.sort_key}")
        stmt: Select[Flavor] = select(Flavor).where(Flavor.disabled.is_(False))
        # Only admins choose; anyone else gets the public flavors plus the private ones shared with their
        # project (Nova's rule, which also lists an admin's own shared flavors under is_public=True).
        is_public = filters.is_public if ctxt.is_admin else True
        if is_public:
            stmt = stmt.where(or_(Flavor.is_public.is_(True), _shared_with(ctxt)))
        elif is_public is not None:
            stmt = stmt.where(Flavor.is_public.is_(False))
        # Past the columns' range no flavor qualifies (and SQLite could not even bind the number).
        for column, minimum in ((Flavor.memory_mb, filters.min_ram), (Flavor.root_gb, filters.min_disk)):
            if minimum is not None:
                stmt = stmt.where(column >= minimum if minimum <= DB_MAX_INT else false())
        with self.db.reader() as session:
            stmt = paginate(
                stmt, Flavor, sort_keys=[(filters.sort_key, filters.sort_dir)], marker=filters.marker,
                limit=filters.limit, marker_column="flavorid", session=session,
            )  # fmt: skip
            return list(session.scalars(stmt))

    def get(self, ctxt: RequestContext, flavorid: str) -> Flavor:
        with self.db.reader() as session:
            return visible_flavor(session, ctxt, flavorid)

    def create(self, ctxt: RequestContext, request: FlavorCreate) -> Flavor:
        flavorid = request.flavorid or str(uuid_lib.uuid4())

        def write(session: Session) -> Flavor:
            if session.scalars(select(Flavor.id).where(Flavor.name == request.name)).first() is not None:
                raise errors.Conflict(f"Flavor with name {request.name} already exists.")
            if session.scalars(select(Flavor.id).where(Flavor.flavorid == flavorid)).first() is not None:
                raise errors.Conflict(f"Flavor with ID {flavorid} already exists.")
            flavor = Flavor(
                flavorid=flavorid, name=request.name, vcpus=request.vcpus, memory_mb=request.ram,
                root_gb=request.disk, ephemeral_gb=request.ephemeral, swap=request.swap,
                rxtx_factor=request.rxtx_factor, is_public=request.is_public, disabled=False,
                description=request.description, extra_specs={},
            )  # fmt: skip
            session.add(flavor)
            session.flush()
            return flavor

        return self.db.write(write)

    def update_description(self, ctxt: RequestContext, flavorid: str, description: str | None) -> Flavor:
        """The one thing about a flavor that may change after creation (compute API 2.55)."""

        def write(session: Session) -> Flavor:
            flavor = visible_flavor(session, ctxt, flavorid)
            flavor.description = description
            session.flush()
            return flavor

        return self.db.write(write)

    def delete(self, ctxt: RequestContext, flavorid: str) -> None:
        def write(session: Session) -> None:
            result = session.execute(delete(Flavor).where(Flavor.flavorid == flavorid))
            if getattr(result, "rowcount", 0) == 0:
                raise errors.NotFound(f"Flavor {flavorid} could not be found.")

        self.db.write(write)
