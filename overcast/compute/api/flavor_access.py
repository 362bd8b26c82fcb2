"""Private flavors' access lists and every flavor's extra specs (logic behind os-flavor-access and
os-extra_specs). Visibility itself (who sees a private flavor) is lookup.visible_flavor's."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.api.lookup import visible_flavor
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.aggregates import FlavorProject
from overcast.db.models.compute import Flavor
from overcast.db.models.identity import Project


def _flavor(session: Session, flavorid: str, *, lock: bool = False) -> Flavor:
    stmt = select(Flavor).where(Flavor.flavorid == flavorid)
    flavor = session.scalars(stmt.with_for_update() if lock else stmt).first()
    if flavor is None:
        raise errors.NotFound(f"Flavor {flavorid} could not be found.")
    return flavor


class FlavorAccessAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    # --- os-flavor-access ---------------------------------------------------------------------------
    def projects(self, flavorid: str) -> list[str]:
        with self.db.reader() as session:
            flavor = _flavor(session, flavorid)
            if flavor.is_public:
                raise errors.NotFound("Access list not available for public flavors.")
            return self._projects(session, flavor)

    @staticmethod
    def _projects(session: Session, flavor: Flavor) -> list[str]:
        return list(
            session.scalars(
                select(FlavorProject.project_id)
                .where(FlavorProject.flavor_id == flavor.id)
                .order_by(FlavorProject.id)
            )
        )

    def add_project(self, flavorid: str, project_id: str, *, refuse_public: bool = True) -> list[str]:
        """Share a private flavor; before compute API 2.7 a public flavor takes the (idle) access too."""

        def write(session: Session) -> list[str]:
            flavor = _flavor(session, flavorid)
            if flavor.is_public and refuse_public:
                raise errors.Conflict("Can not add access to a public flavor.")
            if session.get(Project, project_id) is None:
                raise errors.BadRequest(f"Project ID {project_id} is not a valid project.")
            if project_id in self._projects(session, flavor):
                raise errors.Conflict(
                    f"Flavor access already exists for flavor {flavorid} and project {project_id} "
                    "combination."
                )
            session.add(FlavorProject(flavor_id=flavor.id, project_id=project_id))
            session.flush()
            return self._projects(session, flavor)

        return self.db.write(write)

    def remove_project(self, flavorid: str, project_id: str) -> list[str]:
        def write(session: Session) -> list[str]:
            flavor = _flavor(session, flavorid)
            removed = session.execute(
                delete(FlavorProject).where(
                    FlavorProject.flavor_id == flavor.id, FlavorProject.project_id == project_id
                )
            )
            if getattr(removed, "rowcount", 0) == 0:
                raise errors.NotFound(f"Flavor access not found for {flavorid} / {project_id} combination.")
            return self._projects(session, flavor)

        return self.db.write(write)

    # --- os-extra_specs -----------------------------------------------------------------------------
    def extra_specs(self, ctxt: RequestContext, flavorid: str) -> dict[str, str]:
        with self.db.reader() as session:
            return dict(visible_flavor(session, ctxt, flavorid).extra_specs)

    def extra_spec(self, ctxt: RequestContext, flavorid: str, key: str) -> str:
        specs = self.extra_specs(ctxt, flavorid)
        if key not in specs:
            raise errors.NotFound(f"Flavor {flavorid} has no extra specs with key {key}.")
        return specs[key]

    def merge_extra_specs(self, flavorid: str, specs: Mapping[str, str]) -> dict[str, str]:
        """Add or overwrite `specs`; the flavor row is locked so concurrent merges do not lose keys."""

        def write(session: Session) -> dict[str, str]:
            flavor = _flavor(session, flavorid, lock=True)
            # A new dict: the JSON column only notices assignment, not in-place changes.
            flavor.extra_specs = {**flavor.extra_specs, **specs}
            return dict(flavor.extra_specs)

        return self.db.write(write)

    def delete_extra_spec(self, flavorid: str, key: str) -> None:
        def write(session: Session) -> None:
            flavor = _flavor(session, flavorid, lock=True)
            if key not in flavor.extra_specs:
                raise errors.NotFound(f"Flavor {flavorid} has no extra specs with key {key}.")
            flavor.extra_specs = {name: value for name, value in flavor.extra_specs.items() if name != key}

        self.db.write(write)
