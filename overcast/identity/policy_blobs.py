"""The policies API (/v3/policies): policy documents kept for other services, opaque to identity."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.identity import PolicyBlob
from overcast.errors import BadRequest, NotFound
from overcast.identity.core import IdentityCore

Entity = dict[str, Any]
# Keystone's own attributes of a policy; anything else the client sends is kept and shown back.
KNOWN = ("id", "type", "blob", "links")


def policy_entity(row: PolicyBlob) -> Entity:
    return {**(row.extra or {}), "id": row.id, "type": row.type, "blob": row.blob}


def _text(fields: dict[str, Any], key: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"Invalid input for field '{key}': '{key}' is a required string.")
    if key == "type" and len(value) > 255:
        raise BadRequest("Invalid input for field 'type': at most 255 characters.")
    return value


class PolicyBlobAPI:
    def __init__(self, core: IdentityCore) -> None:
        self.db = core.db

    def list_policies(self, policy_type: str | None = None) -> list[Entity]:
        with self.db.reader() as session:
            query = select(PolicyBlob).order_by(PolicyBlob.id)
            if policy_type is not None:
                query = query.where(PolicyBlob.type == policy_type)
            return [policy_entity(row) for row in session.scalars(query)]

    def get(self, policy_id: str) -> Entity:
        with self.db.reader() as session:
            return policy_entity(self._row(session, policy_id))

    def create(self, fields: dict[str, Any]) -> Entity:
        row = PolicyBlob(
            type=_text(fields, "type"),
            blob=_text(fields, "blob"),
            extra={k: v for k, v in fields.items() if k not in KNOWN},
        )
        with self.db.writer() as session:
            session.add(row)
            session.flush()
            return policy_entity(row)

    def update(self, policy_id: str, fields: dict[str, Any]) -> Entity:
        with self.db.writer() as session:
            row = self._row(session, policy_id)
            if "type" in fields:
                row.type = _text(fields, "type")
            if "blob" in fields:
                row.blob = _text(fields, "blob")
            extra = {k: v for k, v in fields.items() if k not in KNOWN}
            if extra:
                row.extra = {**(row.extra or {}), **extra}
            session.flush()
            return policy_entity(row)

    def delete(self, policy_id: str) -> None:
        with self.db.writer() as session:
            session.delete(self._row(session, policy_id))

    @staticmethod
    def _row(session: Session, policy_id: str) -> PolicyBlob:
        row = session.get(PolicyBlob, policy_id)
        if row is None:
            raise NotFound(f"Could not find policy: {policy_id}.")
        return row
