"""Per-project default volume types (3.62): the type a project's volumes get when a create names none,
before the cloud's own default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.identity import Project
from overcast.db.models.volume import VolumeDefaultType, VolumeType
from overcast.errors import BadRequest, NotFound
from overcast.volume import policies
from overcast.volume.api.records import Record

MAX_NAME = 255


def default_type_record(row: VolumeDefaultType) -> Record:
    return {"project_id": row.project_id, "volume_type_id": row.volume_type_id}


def _known_project(session: Session, project_id: str) -> None:
    if session.get(Project, project_id) is None:
        raise NotFound(f"Project with id {project_id} not found.")


def _type_by_name_or_id(session: Session, name_or_id: Any) -> VolumeType:
    """Any type, public or private, by id or name (an admin names it for the project); unknown is a 400."""
    if not isinstance(name_or_id, str) or not name_or_id.strip() or len(name_or_id) > MAX_NAME:
        raise BadRequest(
            "Invalid input received: volume_type must be a type's name or id of 1 to 255 characters."
        )
    found = (
        session.get(VolumeType, name_or_id)
        or session.scalars(select(VolumeType).where(VolumeType.name == name_or_id)).first()
    )
    if found is None:
        raise BadRequest(f"Volume type {name_or_id} could not be found.")
    return found


class DefaultTypes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set(self, ctxt: RequestContext, project_id: str, body: Mapping[str, Any]) -> Record:
        if set(body) - {"volume_type"}:
            unknown = ", ".join(sorted(set(body) - {"volume_type"}))
            raise BadRequest(f"Invalid input received: Additional properties are not allowed ({unknown}).")
        if "volume_type" not in body:
            raise BadRequest("Invalid input received: 'volume_type' is a required property.")

        def write(session: Session) -> Record:
            _known_project(session, project_id)
            policy.enforce(ctxt, policies.DEFAULT_TYPE_SET, {"project_id": project_id})
            volume_type = _type_by_name_or_id(session, body["volume_type"])
            row = session.get(VolumeDefaultType, project_id)
            if row is None:
                row = VolumeDefaultType(project_id=project_id, volume_type_id=volume_type.id)
                session.add(row)
            else:
                row.volume_type_id = volume_type.id
                row.updated_at = utcnow()
            session.flush()
            return default_type_record(row)

        return self.db.write(write)

    def get(self, ctxt: RequestContext, project_id: str) -> Record:
        with self.db.reader() as session:
            _known_project(session, project_id)
            policy.enforce(ctxt, policies.DEFAULT_TYPE_GET, {"project_id": project_id})
            row = session.get(VolumeDefaultType, project_id)
            if row is None:
                raise NotFound(f"Default type for project {project_id} not found.")
            return default_type_record(row)

    def list_all(self, ctxt: RequestContext) -> list[Record]:
        policy.enforce(ctxt, policies.DEFAULT_TYPE_GET_ALL, {"project_id": ctxt.project_id})
        with self.db.reader() as session:
            rows = session.scalars(select(VolumeDefaultType).order_by(VolumeDefaultType.project_id))
            return [default_type_record(row) for row in rows]

    def unset(self, ctxt: RequestContext, project_id: str) -> None:
        """Unsetting a project that has no default of its own is no error (Cinder's 204 either way)."""

        def write(session: Session) -> None:
            _known_project(session, project_id)
            policy.enforce(ctxt, policies.DEFAULT_TYPE_UNSET, {"project_id": project_id})
            row = session.get(VolumeDefaultType, project_id)
            if row is not None:
                session.delete(row)

        self.db.write(write)
