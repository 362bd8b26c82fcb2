"""Server metadata (/servers/{id}/metadata): Nova's key rules, metadata_items quota and state guard."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute import instance_extra, states
from overcast.compute.api.lookup import visible_instance
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import Instance
from overcast.quota import UNLIMITED, QuotaEngine

# Nova's parameter_types.metadata: keys of these characters, values of at most 255 characters.
KEY_PATTERN = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
MAX_VALUE_LENGTH = 255
# Nova's update/delete_instance_metadata guard (any task_state); not a row of states.ACTIONS because
# it starts no task.
METADATA_VM_STATES = (states.ACTIVE, states.PAUSED, states.SUSPENDED, states.STOPPED)


def check_metadata(metadata: Mapping[str, object]) -> None:
    for key, value in metadata.items():
        if not isinstance(key, str) or not KEY_PATTERN.match(key):
            raise errors.BadRequest(f"Invalid metadata key {key!r}: 1-255 of letters, digits and '-_:. '.")
        if not isinstance(value, str):
            raise errors.BadRequest(f"Invalid metadata value for {key!r}: it must be a string.")
        if len(value) > MAX_VALUE_LENGTH:
            raise errors.BadRequest(f"Invalid metadata value for {key!r}: longer than {MAX_VALUE_LENGTH}.")


def check_metadata_quota(
    quotas: QuotaEngine, session: Session, project_id: str, metadata: Mapping[str, str]
) -> None:
    limit = quotas.get_limits(session, project_id)["metadata_items"]
    if limit != UNLIMITED and len(metadata) > limit:
        raise errors.QuotaExceeded(f"Maximum number of metadata items exceeds {limit}")


class MetadataAPI:
    def __init__(self, db: Database, quotas: QuotaEngine) -> None:
        self.db = db
        self.quotas = quotas

    def get_all(self, ctxt: RequestContext, uuid: str) -> dict[str, str]:
        with self.db.reader() as session:
            return dict(visible_instance(session, ctxt, uuid).metadata_items)

    def get_item(self, ctxt: RequestContext, uuid: str, key: str) -> str:
        metadata = self.get_all(ctxt, uuid)
        if key not in metadata:
            raise errors.NotFound("Metadata item was not found")
        return metadata[key]

    def replace_all(self, ctxt: RequestContext, uuid: str, metadata: dict[str, str]) -> dict[str, str]:
        check_metadata(metadata)
        return self._change(ctxt, uuid, "update metadata", lambda current: dict(metadata))

    def update(self, ctxt: RequestContext, uuid: str, metadata: dict[str, str]) -> dict[str, str]:
        check_metadata(metadata)
        return self._change(ctxt, uuid, "update metadata", lambda current: {**current, **metadata})

    def set_item(self, ctxt: RequestContext, uuid: str, key: str, meta: dict[str, str]) -> dict[str, str]:
        if len(meta) > 1:
            raise errors.BadRequest("Request body contains too many items")
        if key not in meta:
            raise errors.BadRequest("Request body and URI mismatch")
        check_metadata(meta)
        self._change(ctxt, uuid, "update metadata", lambda current: {**current, **meta})
        return dict(meta)

    def delete_item(self, ctxt: RequestContext, uuid: str, key: str) -> None:
        def remove(current: dict[str, str]) -> dict[str, str]:
            if key not in current:
                raise errors.NotFound("Metadata item was not found")
            return {name: value for name, value in current.items() if name != key}

        self._change(ctxt, uuid, "delete metadata", remove)

    def _change(
        self,
        ctxt: RequestContext,
        uuid: str,
        api_name: str,
        change: Callable[[dict[str, str]], dict[str, str]],
    ) -> dict[str, str]:
        def write(session: Session) -> dict[str, str]:
            instance: Instance = visible_instance(session, ctxt, uuid)
            instance_extra.ensure_unlocked(session, ctxt, instance)
            if instance.vm_state not in METADATA_VM_STATES:
                raise errors.Conflict(
                    states.invalid_state_message(api_name, uuid, "vm_state", instance.vm_state)
                )
            updated = change(dict(instance.metadata_items))
            check_metadata_quota(self.quotas, session, instance.project_id, updated)
            instance.metadata_items = updated
            instance.updated_at = utcnow()
            session.flush()
            return updated

        return self.db.write(write)
