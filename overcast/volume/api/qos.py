"""QoS specs: named sets of limits with a consumer (front-end: the hypervisor throttles; back-end: the
storage would; both), associated with volume types. Keys are Cinder's; values are positive integers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import QosSpecs, VolumeType
from overcast.errors import BadRequest, Conflict, NotFound
from overcast.volume import policies
from overcast.volume.api import access
from overcast.volume.api.attachments import FRONT_END_QOS_KEYS

CONSUMERS = ("front-end", "back-end", "both")
Record = dict[str, Any]


def check_specs(specs: Mapping[str, Any]) -> dict[str, str]:
    checked: dict[str, str] = {}
    for key, value in specs.items():
        if key not in FRONT_END_QOS_KEYS:
            raise BadRequest(
                f"Invalid input received: QoS spec key {key!r} is not one of {', '.join(FRONT_END_QOS_KEYS)}."
            )
        text = str(value).strip() if isinstance(value, str | int) and not isinstance(value, bool) else ""
        if not text.isdigit() or int(text) <= 0:
            raise BadRequest(
                f"Invalid input received: QoS spec {key} must be a positive integer, got {value!r}."
            )
        checked[key] = text
    return checked


def qos_record(specs: QosSpecs) -> Record:
    return {"id": specs.id, "name": specs.name, "consumer": specs.consumer, "specs": dict(specs.specs)}


class QosSpecsAPI:
    def __init__(self, db: Database) -> None:
        self.db = db

    def _enforce(self, ctxt: RequestContext, rule: str) -> None:
        policy.enforce(ctxt, rule, {"project_id": ctxt.project_id})

    def list_all(self, ctxt: RequestContext) -> list[Record]:
        self._enforce(ctxt, policies.QOS_GET)
        with self.db.reader() as session:
            return [qos_record(row) for row in session.scalars(select(QosSpecs).order_by(QosSpecs.name))]

    def get(self, ctxt: RequestContext, qos_id: str) -> Record:
        self._enforce(ctxt, policies.QOS_GET)
        with self.db.reader() as session:
            return qos_record(access.get_qos_specs(session, qos_id))

    def create(self, ctxt: RequestContext, body: Mapping[str, Any]) -> Record:
        self._enforce(ctxt, policies.QOS_MANAGE)
        name = body.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 255:
            raise BadRequest("Please specify a name for QoS specs.")
        consumer = body.get("consumer", "back-end")
        if consumer not in CONSUMERS:
            raise BadRequest(f"Invalid input received: Valid consumer of QoS specs are: {list(CONSUMERS)}")
        specs = check_specs({key: value for key, value in body.items() if key not in ("name", "consumer")})

        def write(session: Session) -> Record:
            if session.scalars(select(QosSpecs).where(QosSpecs.name == name)).first() is not None:
                raise Conflict(f"QoS Specs {name} already exists.")
            row = QosSpecs(id=str(uuid.uuid4()), name=name.strip(), consumer=consumer, specs=specs)
            session.add(row)
            session.flush()
            return qos_record(row)

        return self.db.write(write)

    def set_keys(self, ctxt: RequestContext, qos_id: str, body: Mapping[str, Any]) -> dict[str, str]:
        """PUT /qos-specs/{id}: set keys (and consumer)."""
        self._enforce(ctxt, policies.QOS_MANAGE)
        consumer = body.get("consumer")
        if consumer is not None and consumer not in CONSUMERS:
            raise BadRequest(f"Invalid input received: Valid consumer of QoS specs are: {list(CONSUMERS)}")
        specs = check_specs({key: value for key, value in body.items() if key != "consumer"})

        def write(session: Session) -> dict[str, str]:
            row = access.get_qos_specs(session, qos_id)
            row.specs = {**row.specs, **specs}
            if consumer is not None:
                row.consumer = consumer
            row.updated_at = utcnow()
            return {**specs, **({"consumer": consumer} if consumer else {})}

        return self.db.write(write)

    def delete_keys(self, ctxt: RequestContext, qos_id: str, keys: Any) -> None:
        self._enforce(ctxt, policies.QOS_MANAGE)
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            raise BadRequest("Invalid input received: keys must be a list of strings.")

        def write(session: Session) -> None:
            row = access.get_qos_specs(session, qos_id)
            missing = [key for key in keys if key not in row.specs]
            if missing:
                raise NotFound(f"QoS spec {qos_id} has no key {missing[0]}.")
            row.specs = {key: value for key, value in row.specs.items() if key not in keys}
            row.updated_at = utcnow()

        self.db.write(write)

    def delete(self, ctxt: RequestContext, qos_id: str, *, force: bool) -> None:
        self._enforce(ctxt, policies.QOS_MANAGE)

        def write(session: Session) -> None:
            row = access.get_qos_specs(session, qos_id)
            associated = session.scalars(select(VolumeType).where(VolumeType.qos_specs_id == qos_id)).first()
            if associated is not None and not force:
                raise BadRequest(f"QoS Specs {qos_id} is still associated with entities.")
            session.execute(
                update(VolumeType).where(VolumeType.qos_specs_id == qos_id).values(qos_specs_id=None)
            )
            session.delete(row)

        self.db.write(write)

    def associations(self, ctxt: RequestContext, qos_id: str) -> list[Record]:
        self._enforce(ctxt, policies.QOS_GET)
        with self.db.reader() as session:
            access.get_qos_specs(session, qos_id)
            types = session.scalars(
                select(VolumeType).where(VolumeType.qos_specs_id == qos_id).order_by(VolumeType.name)
            )
            return [{"association_type": "volume_type", "name": t.name, "id": t.id} for t in types]

    def associate(self, ctxt: RequestContext, qos_id: str, type_id: str | None) -> None:
        self._enforce(ctxt, policies.QOS_MANAGE)
        if not type_id:
            raise BadRequest("Volume Type id must not be None.")

        def write(session: Session) -> None:
            access.get_qos_specs(session, qos_id)
            volume_type = session.get(VolumeType, type_id)
            if volume_type is None:
                raise NotFound(f"Volume type {type_id} could not be found.")
            if volume_type.qos_specs_id not in (None, qos_id):
                raise BadRequest(
                    f"Type {type_id} is already associated with another qos specs: {volume_type.qos_specs_id}"
                )
            volume_type.qos_specs_id = qos_id

        self.db.write(write)

    def disassociate(self, ctxt: RequestContext, qos_id: str, type_id: str | None) -> None:
        self._enforce(ctxt, policies.QOS_MANAGE)
        if not type_id:
            raise BadRequest("Volume Type id must not be None.")

        def write(session: Session) -> None:
            access.get_qos_specs(session, qos_id)
            volume_type = session.get(VolumeType, type_id)
            if volume_type is None:
                raise NotFound(f"Volume type {type_id} could not be found.")
            if volume_type.qos_specs_id == qos_id:
                volume_type.qos_specs_id = None

        self.db.write(write)

    def disassociate_all(self, ctxt: RequestContext, qos_id: str) -> None:
        self._enforce(ctxt, policies.QOS_MANAGE)

        def write(session: Session) -> None:
            access.get_qos_specs(session, qos_id)
            session.execute(
                update(VolumeType).where(VolumeType.qos_specs_id == qos_id).values(qos_specs_id=None)
            )

        self.db.write(write)
