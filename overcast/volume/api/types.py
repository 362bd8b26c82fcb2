"""Volume types: public and private types, their extra specs, project access, and the default type."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import (
    Volume,
    VolumeDefaultType,
    VolumeType,
    VolumeTypeExtraSpec,
    VolumeTypeProject,
)
from overcast.errors import BadRequest, Conflict, NotFound
from overcast.volume import policies
from overcast.volume.api import access
from overcast.volume.api.records import Record, extra_specs_of, type_record
from overcast.volume.api.volumes import strict_bool

MAX_SPEC = 255
# The extra specs Cinder shows to non-admins (what a user chooses a type by); the rest is the operator's.
USER_VISIBLE_SPECS = frozenset({"multiattach", "RESKEY:availability_zones", "replication_enabled"})


def check_extra_specs(specs: Any) -> dict[str, str]:
    if not isinstance(specs, Mapping):
        raise BadRequest("Invalid input received: extra_specs must be an object.")
    checked: dict[str, str] = {}
    for key, value in specs.items():
        if not isinstance(key, str) or not key or len(key) > MAX_SPEC:
            raise BadRequest("Invalid input received: extra spec keys must be 1 to 255 characters.")
        if isinstance(value, bool):
            value = str(value)
        if isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str) or len(value) > MAX_SPEC:
            raise BadRequest(f"Invalid input received: extra spec {key} must be a string of at most 255.")
        checked[key] = value
    return checked


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise BadRequest("Invalid input received: the volume type name must be 1 to 255 characters.")
    return name.strip()


class VolumeTypes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _records(self, session: Session, ctxt: RequestContext, types: list[VolumeType]) -> list[Record]:
        specs = extra_specs_of(session, [t.id for t in types])
        records = []
        for volume_type in types:
            record = type_record(volume_type, specs[volume_type.id])
            if not ctxt.is_admin:
                record.pop("qos_specs_id")
                record["extra_specs"] = {
                    key: value for key, value in record["extra_specs"].items() if key in USER_VISIBLE_SPECS
                }
            records.append(record)
        return records

    # The filters `list_all` takes (GET /resource_filters lists them).
    LIST_FILTERS = ("is_public",)

    def list_all(self, ctxt: RequestContext, *, is_public: str | None = None) -> list[Record]:
        policy.enforce(ctxt, policies.TYPE_GET, {"project_id": ctxt.project_id})
        stmt = select(VolumeType).where(access.visible_types_clause(ctxt)).order_by(VolumeType.name)
        # Admins see every type, or only public or private ones with is_public (None: all).
        if ctxt.is_admin and is_public is not None and is_public.lower() != "none":
            stmt = stmt.where(VolumeType.is_public.is_(strict_bool(is_public, "is_public")))
        with self.db.reader() as session:
            return self._records(session, ctxt, list(session.scalars(stmt)))

    def get(self, ctxt: RequestContext, type_id: str) -> Record:
        policy.enforce(ctxt, policies.TYPE_GET, {"project_id": ctxt.project_id})
        with self.db.reader() as session:
            if type_id == "default":
                return self._records(session, ctxt, [access.default_type(session, ctxt.project_id)])[0]
            volume_type = session.get(VolumeType, type_id)
            if volume_type is None or not access.type_visible(session, ctxt, volume_type):
                raise NotFound(f"Volume type {type_id} could not be found.")
            return self._records(session, ctxt, [volume_type])[0]

    def create(self, ctxt: RequestContext, body: Mapping[str, Any]) -> Record:
        policy.enforce(ctxt, policies.TYPE_MANAGE, {"project_id": ctxt.project_id})
        name = _check_name(body.get("name"))
        description = body.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 255):
            raise BadRequest(
                "Invalid input received: description must be a string of at most 255 characters."
            )
        public = strict_bool(
            body.get("os-volume-type-access:is_public", body.get("is_public", True)), "is_public"
        )
        specs = check_extra_specs(body.get("extra_specs") or {})

        def write(session: Session) -> Record:
            if session.scalar(select(func.count()).select_from(VolumeType).where(VolumeType.name == name)):
                raise Conflict(f"Volume Type {name} already exists.")
            volume_type = VolumeType(
                id=str(uuid.uuid4()), name=name, description=description, is_public=public
            )
            session.add(volume_type)
            session.flush()
            for key, value in specs.items():
                session.add(VolumeTypeExtraSpec(volume_type_id=volume_type.id, key=key, value=value))
            session.flush()
            return self._records(session, ctxt, [volume_type])[0]

        return self.db.write(write)

    def update(self, ctxt: RequestContext, type_id: str, body: Mapping[str, Any]) -> Record:
        policy.enforce(ctxt, policies.TYPE_MANAGE, {"project_id": ctxt.project_id})
        if not {"name", "description", "is_public"} & set(body):
            raise BadRequest("Specify volume type name, description, is_public or a combination thereof.")

        def write(session: Session) -> Record:
            volume_type = self._managed(session, type_id)
            if "name" in body:
                name = _check_name(body["name"])
                if volume_type.name == access.DEFAULT_TYPE_NAME and name != volume_type.name:
                    raise BadRequest("The default volume type cannot be renamed.")
                clash = session.scalars(
                    select(VolumeType).where(VolumeType.name == name, VolumeType.id != type_id)
                )
                if clash.first() is not None:
                    raise Conflict(f"Volume Type {name} already exists.")
                volume_type.name = name
            if "description" in body:
                volume_type.description = body["description"]
            if "is_public" in body:
                volume_type.is_public = strict_bool(body["is_public"], "is_public")
            volume_type.updated_at = utcnow()
            session.flush()
            return self._records(session, ctxt, [volume_type])[0]

        return self.db.write(write)

    def delete(self, ctxt: RequestContext, type_id: str) -> None:
        policy.enforce(ctxt, policies.TYPE_MANAGE, {"project_id": ctxt.project_id})

        def write(session: Session) -> None:
            volume_type = self._managed(session, type_id)
            if volume_type.name == access.DEFAULT_TYPE_NAME:
                raise BadRequest("Default volume type can not be deleted.")
            if session.scalars(
                select(VolumeDefaultType.project_id).where(VolumeDefaultType.volume_type_id == volume_type.id)
            ).first():
                raise BadRequest(
                    f"The volume type {volume_type.id} is a default volume type and cannot be deleted."
                )
            in_use = session.scalar(
                select(func.count()).select_from(Volume).where(Volume.volume_type_id == volume_type.id)
            )
            if in_use:
                raise BadRequest("Target volume type is still in use.")
            session.delete(volume_type)

        self.db.write(write)

    @staticmethod
    def _managed(session: Session, type_id: str) -> VolumeType:
        volume_type = session.get(VolumeType, type_id)
        if volume_type is None:
            raise NotFound(f"Volume type {type_id} could not be found.")
        return volume_type

    # --- extra specs ----------------------------------------------------------------------------------
    def extra_specs(self, ctxt: RequestContext, type_id: str) -> dict[str, str]:
        record = self.get(ctxt, type_id)
        specs: dict[str, str] = record["extra_specs"]
        return specs

    def set_extra_specs(self, ctxt: RequestContext, type_id: str, specs: Any) -> dict[str, str]:
        policy.enforce(ctxt, policies.TYPE_MANAGE, {"project_id": ctxt.project_id})
        checked = check_extra_specs(specs)
        if not checked:
            raise BadRequest("Invalid input received: extra_specs must not be empty.")

        def write(session: Session) -> dict[str, str]:
            volume_type = self._managed(session, type_id)
            for key, value in checked.items():
                row = session.get(VolumeTypeExtraSpec, (volume_type.id, key))
                if row is None:
                    session.add(VolumeTypeExtraSpec(volume_type_id=volume_type.id, key=key, value=value))
                else:
                    row.value = value
            volume_type.updated_at = utcnow()
            return checked

        return self.db.write(write)

    def delete_extra_spec(self, ctxt: RequestContext, type_id: str, key: str) -> None:
        policy.enforce(ctxt, policies.TYPE_MANAGE, {"project_id": ctxt.project_id})

        def write(session: Session) -> None:
            volume_type = self._managed(session, type_id)
            row = session.get(VolumeTypeExtraSpec, (volume_type.id, key))
            if row is None:
                raise NotFound(f"Volume Type {type_id} has no extra specs with key {key}.")
            session.delete(row)

        self.db.write(write)

    # --- access ---------------------------------------------------------------------------------------
    def access_list(self, ctxt: RequestContext, type_id: str) -> list[dict[str, str]]:
        policy.enforce(ctxt, policies.TYPE_ACCESS, {"project_id": ctxt.project_id})
        with self.db.reader() as session:
            volume_type = self._managed(session, type_id)
            if volume_type.is_public:
                raise NotFound(f"Volume type access not found for {type_id}.")
            query = select(VolumeTypeProject.project_id).where(VolumeTypeProject.volume_type_id == type_id)
            return [
                {"volume_type_id": type_id, "project_id": project}
                for project in sorted(session.scalars(query))
            ]

    def change_access(self, ctxt: RequestContext, type_id: str, project_id: Any, *, add: bool) -> None:
        policy.enforce(ctxt, policies.TYPE_ACCESS_MANAGE, {"project_id": ctxt.project_id})
        if not isinstance(project_id, str) or not project_id:
            raise BadRequest("Missing required element 'project' in request body.")

        def write(session: Session) -> None:
            volume_type = self._managed(session, type_id)
            if volume_type.is_public:
                raise BadRequest(
                    "Invalid volume type: Type access modification is not applicable to public volume type."
                )
            row = session.get(VolumeTypeProject, (type_id, project_id))
            if add:
                if row is not None:
                    raise Conflict(
                        f"Volume type access for {type_id} / {project_id} combination already exists."
                    )
                session.add(VolumeTypeProject(volume_type_id=type_id, project_id=project_id))
            else:
                if row is None:
                    raise NotFound(f"Volume type access not found for {type_id} / {project_id} combination.")
                session.delete(row)

        self.db.write(write)
