"""The instance_extra row of an instance: its lock, the guest's password, resize and shelve bookkeeping."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.db.models.instance_actions import InstanceExtra

LOCKED_BY_OWNER = "owner"
LOCKED_BY_ADMIN = "admin"
# Nova's disable_terminate, which EC2's disableApiTermination sets: a DELETE is refused while it is set,
# for admins too (unlike the lock, it holds no other action).
DISABLE_TERMINATE = "disable_terminate"


def get(session: Session, instance_uuid: str) -> InstanceExtra:
    """The row, created empty on first use (instances created before it existed have none)."""
    extra = session.get(InstanceExtra, instance_uuid)
    if extra is None:
        extra = InstanceExtra(instance_uuid=instance_uuid, locked=False, system_metadata={})
        session.add(extra)
        session.flush()
    return extra


def peek(session: Session, instance_uuid: str) -> InstanceExtra | None:
    """The row if it exists; for readers, which must not write."""
    return session.get(InstanceExtra, instance_uuid)


def system_metadata(session: Session, instance_uuid: str) -> dict[str, Any]:
    extra = peek(session, instance_uuid)
    return dict(extra.system_metadata) if extra is not None else {}


def update_system_metadata(session: Session, instance_uuid: str, **values: Any) -> None:
    """Set keys (a value of None removes the key); the JSON column is replaced, not mutated in place."""
    extra = get(session, instance_uuid)
    merged = dict(extra.system_metadata)
    for key, value in values.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    extra.system_metadata = merged
    session.flush()


def ensure_unlocked(session: Session, ctxt: RequestContext, instance: Instance) -> None:
    """Nova's check_instance_lock: a locked instance refuses actions, except from admins."""
    extra = peek(session, instance.uuid)
    if extra is not None and extra.locked and not ctxt.is_admin:
        raise errors.Conflict(f"Instance {instance.uuid} is locked")


def ensure_terminable(session: Session, instance: Instance) -> None:
    """A server with termination protection refuses to be deleted until it is turned off."""
    if system_metadata(session, instance.uuid).get(DISABLE_TERMINATE):
        raise errors.Conflict(
            f"Instance {instance.uuid} has termination protection (EC2's disableApiTermination): "
            "turn it off (ModifyInstanceAttribute) before deleting it."
        )
