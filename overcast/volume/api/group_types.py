"""Group types (3.11): what kind of generic volume group a group is, with its group specs. Admins manage
them; anyone lists and shows the public ones, and only admins see the specs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import GroupType, GroupTypeSpec, VolumeGroup
from overcast.errors import BadRequest, Conflict, NotFound
from overcast.volume import policies
from overcast.volume.api.records import Record
from overcast.volume.api.volumes import strict_bool

MAX_TEXT = 255
# Cinder's validate_key_names: letters, digits, underscores, periods, colons and hyphens.
SPEC_KEY = re.compile(r"^[\w.:-]+$")


def check_group_specs(specs: Any) -> dict[str, str]:
    if not isinstance(specs, Mapping):
        raise BadRequest("Invalid input received: group_specs must be an object.")
    checked: dict[str, str] = {}
    for key, value in specs.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_TEXT or not SPEC_KEY.match(key):
            raise BadRequest(
                "Key names can only contain alphanumeric characters, underscores, periods, colons and "
                "hyphens."
            )
        if isinstance(value, bool | int | float):
            value = str(value)
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise BadRequest(
                f'Invalid input received: Value for key "{key}" must be a string of at most 255.'
            )
        checked[key] = value
    return checked


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEXT:
        raise BadRequest("Invalid input received: the group type name must be 1 to 255 characters.")
    return name.strip()


def _check_description(description: Any) -> str | None:
    if description is not None and (not isinstance(description, str) or len(description) > MAX_TEXT):
        raise BadRequest("Invalid input received: description must be a string of at most 255 characters.")
    return description


def specs_of(session: Session, type_ids: list[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {type_id: {} for type_id in type_ids}
    if type_ids:
        for row in session.scalars(select(GroupTypeSpec).where(GroupTypeSpec.group_type_id.in_(type_ids))):
            found[row.group_type_id][row.key] = row.value
    return found


def visible_group_type(session: Session, ctxt: RequestContext, name_or_id: str) -> GroupType:
    """A group type by id, else by name; a private one only for admins (Cinder keeps no group type
    access lists)."""
    group_type = (
        session.get(GroupType, name_or_id)
        or session.scalars(select(GroupType).where(GroupType.name == name_or_id)).first()
    )
    if group_type is None or not (group_type.is_public or ctxt.is_admin):
        raise NotFound(f"Group type {name_or_id} could not be found.")
    return group_type


class GroupTypes:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _records(self, session: Session, ctxt: RequestContext, types: list[GroupType]) -> list[Record]:
        show_specs = policy.authorize(ctxt, policies.GROUP_TYPE_SPECS_SHOWN, {"project_id": ctxt.project_id})
        specs = specs_of(session, [t.id for t in types]) if show_specs else {}
        records = []
        for group_type in types:
            record: Record = {
                "id": group_type.id,
                "name": group_type.name,
                "description": group_type.description,
                "is_public": group_type.is_public,
            }
            if show_specs:
                record["group_specs"] = specs[group_type.id]
            records.append(record)
        return records

    # --- reads ----------------------------------------------------------------------------------------
    def list_all(self, ctxt: RequestContext, *, is_public: str | None = None) -> list[Record]:
        policy.enforce(ctxt, policies.GROUP_TYPE_GET, {"project_id": ctxt.project_id})
        stmt = select(GroupType).order_by(GroupType.name)
        if not ctxt.is_admin:
            stmt = stmt.where(GroupType.is_public.is_(True))
        elif is_public is not None and is_public.strip().lower() != "none":
            stmt = stmt.where(GroupType.is_public.is_(strict_bool(is_public, "is_public")))
        with self.db.reader() as session:
            return self._records(session, ctxt, list(session.scalars(stmt)))

    def get(self, ctxt: RequestContext, type_id: str) -> Record:
        policy.enforce(ctxt, policies.GROUP_TYPE_GET, {"project_id": ctxt.project_id})
        if type_id == "default":
            # Cinder's default_group_type, which this cloud does not configure.
            raise NotFound("Default group type can not be found.")
        with self.db.reader() as session:
            group_type = session.get(GroupType, type_id)
            if group_type is None or not (group_type.is_public or ctxt.is_admin):
                raise NotFound(f"Group type {type_id} could not be found.")
            return self._records(session, ctxt, [group_type])[0]

    # --- writes ---------------------------------------------------------------------------------------
    def create(self, ctxt: RequestContext, body: Mapping[str, Any]) -> Record:
        policy.enforce(ctxt, policies.GROUP_TYPE_MANAGE, {"project_id": ctxt.project_id})
        name = _check_name(body.get("name"))
        description = _check_description(body.get("description"))
        public = strict_bool(body.get("is_public", True), "is_public")
        specs = check_group_specs(body.get("group_specs") or {})

        def write(session: Session) -> Record:
            if session.scalar(select(func.count()).select_from(GroupType).where(GroupType.name == name)):
                raise Conflict(f"Group Type {name} already exists.")
            group_type = GroupType(id=str(uuid.uuid4()), name=name, description=description, is_public=public)
            session.add(group_type)
            session.flush()
            for key, value in specs.items():
                session.add(GroupTypeSpec(group_type_id=group_type.id, key=key, value=value))
            session.flush()
            return self._records(session, ctxt, [group_type])[0]

        return self.db.write(write)

    def update(self, ctxt: RequestContext, type_id: str, body: Mapping[str, Any]) -> Record:
        policy.enforce(ctxt, policies.GROUP_TYPE_MANAGE, {"project_id": ctxt.project_id})
        if all(body.get(key) is None for key in ("name", "description", "is_public")):
            raise BadRequest("Specify group type name, description or a combination thereof.")

        def write(session: Session) -> Record:
            group_type = self._managed(session, type_id)
            if body.get("name") is not None:
                name = _check_name(body["name"])
                clash = select(GroupType.id).where(GroupType.name == name, GroupType.id != type_id)
                if session.scalars(clash).first() is not None:
                    raise Conflict(f"Group Type {name} already exists.")
                group_type.name = name
            if body.get("description") is not None:
                group_type.description = _check_description(body["description"])
            if body.get("is_public") is not None:
                group_type.is_public = strict_bool(body["is_public"], "is_public")
            group_type.updated_at = utcnow()
            session.flush()
            return self._records(session, ctxt, [group_type])[0]

        return self.db.write(write)

    def delete(self, ctxt: RequestContext, type_id: str) -> None:
        policy.enforce(ctxt, policies.GROUP_TYPE_MANAGE, {"project_id": ctxt.project_id})

        def write(session: Session) -> None:
            group_type = self._managed(session, type_id)
            in_use = select(func.count()).select_from(VolumeGroup).where(VolumeGroup.group_type_id == type_id)
            if session.scalar(in_use):
                raise BadRequest("Target group type is still in use.")
            session.delete(group_type)

        self.db.write(write)

    @staticmethod
    def _managed(session: Session, type_id: str) -> GroupType:
        group_type = session.get(GroupType, type_id)
        if group_type is None:
            raise NotFound(f"Group type {type_id} could not be found.")
        return group_type

    # --- group specs ----------------------------------------------------------------------------------
    def specs(self, ctxt: RequestContext, type_id: str) -> dict[str, str]:
        policy.enforce(ctxt, policies.GROUP_TYPE_SPECS, {"project_id": ctxt.project_id})
        with self.db.reader() as session:
            self._managed(session, type_id)
            return specs_of(session, [type_id])[type_id]

    def spec(self, ctxt: RequestContext, type_id: str, key: str) -> dict[str, str]:
        specs = self.specs(ctxt, type_id)
        if key not in specs:
            raise NotFound(f"Group Type {type_id} has no extra spec with key {key}.")
        return {key: specs[key]}

    def set_specs(self, ctxt: RequestContext, type_id: str, specs: Any) -> dict[str, str]:
        """Create or change the keys given (the others stay), as Cinder's POST and PUT both do."""
        policy.enforce(ctxt, policies.GROUP_TYPE_SPECS, {"project_id": ctxt.project_id})
        checked = check_group_specs(specs)

        def write(session: Session) -> dict[str, str]:
            group_type = self._managed(session, type_id)
            for key, value in checked.items():
                row = session.get(GroupTypeSpec, (type_id, key))
                if row is None:
                    session.add(GroupTypeSpec(group_type_id=type_id, key=key, value=value))
                else:
                    row.value = value
            group_type.updated_at = utcnow()
            return checked

        return self.db.write(write)

    def delete_spec(self, ctxt: RequestContext, type_id: str, key: str) -> None:
        policy.enforce(ctxt, policies.GROUP_TYPE_SPECS, {"project_id": ctxt.project_id})

        def write(session: Session) -> None:
            self._managed(session, type_id)
            row = session.get(GroupTypeSpec, (type_id, key))
            if row is None:
                raise NotFound(f"Group Type {type_id} has no extra spec with key {key}.")
            session.delete(row)

        self.db.write(write)
