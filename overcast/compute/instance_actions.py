"""Instance actions: one record per user request on a server, with events timed around each step.

The API records the action in the same transaction that starts it (so an action that could not start
leaves no record); the services record events around their work with `action_event`, keyed by the
request id that travels in the context. An event that fails marks its action "Error", as Nova does.
"""

from __future__ import annotations

import functools
import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.instance_actions import InstanceAction, InstanceActionEvent

LOG = logging.getLogger(__name__)

SUCCESS = "Success"
ERROR = "Error"

# Nova's action names (nova.compute.instance_actions), as the API shows them.
CREATE = "create"
DELETE = "delete"
RESTORE = "restore"
FORCE_DELETE = "forceDelete"
STOP = "stop"
START = "start"
REBOOT = "reboot"
REBUILD = "rebuild"
RESIZE = "resize"
MIGRATE = "migrate"
CONFIRM_RESIZE = "confirmResize"
REVERT_RESIZE = "revertResize"
PAUSE = "pause"
UNPAUSE = "unpause"
SUSPEND = "suspend"
RESUME = "resume"
RESCUE = "rescue"
UNRESCUE = "unrescue"
CHANGE_PASSWORD = "changePassword"
SHELVE = "shelve"
SHELVE_OFFLOAD = "shelveOffload"
UNSHELVE = "unshelve"
LOCK = "lock"
UNLOCK = "unlock"
CREATE_IMAGE = "createImage"
BACKUP = "createBackup"
RESET_STATE = "resetState"
ATTACH_INTERFACE = "attach_interface"
DETACH_INTERFACE = "detach_interface"
ATTACH_VOLUME = "attach_volume"
DETACH_VOLUME = "detach_volume"
SWAP_VOLUME = "swap_volume"
EXTEND_VOLUME = "extend_volume"
TRIGGER_CRASH_DUMP = "trigger_crash_dump"


@dataclass(frozen=True)
class ActionRecord:
    action: InstanceAction
    events: list[InstanceActionEvent]


def record_action(session: Session, ctxt: RequestContext, instance_uuid: str, action: str) -> InstanceAction:
    now = utcnow()
    record = InstanceAction(
        action=action, instance_uuid=instance_uuid, request_id=ctxt.request_id,
        user_id=ctxt.user_id, project_id=ctxt.project_id, start_time=now, updated_at=now,
    )  # fmt: skip
    session.add(record)
    session.flush()
    return record


def _find_action(session: Session, instance_uuid: str, request_id: str) -> InstanceAction | None:
    return session.scalars(
        select(InstanceAction)
        .where(InstanceAction.instance_uuid == instance_uuid, InstanceAction.request_id == request_id)
        .order_by(InstanceAction.id.desc())
    ).first()


def start_event(
    session: Session, ctxt: RequestContext, instance_uuid: str, event: str, host: str | None
) -> int | None:
    """Record that `event` of the request's action starts, in the caller's transaction; the event's id,
    or None for work nobody asked for through the API (periodic tasks): nothing to attach it to."""
    action = _find_action(session, instance_uuid, ctxt.request_id)
    if action is None:
        return None
    now = utcnow()
    record = InstanceActionEvent(action_id=action.id, event=event, start_time=now, host=host)
    action.updated_at = now
    session.add(record)
    session.flush()
    return record.id


def finish_event(session: Session, event_id: int, error: BaseException | None) -> None:
    """Record the end of event `event_id` (a failure marks its action "Error") in the caller's transaction."""
    record = session.get(InstanceActionEvent, event_id)
    if record is None:
        return
    now = utcnow()
    record.finish_time = now
    record.result = SUCCESS if error is None else ERROR
    if error is not None:
        record.traceback = "".join(traceback.format_exception(error)).strip()
    values: dict[str, object] = {"finish_time": now, "updated_at": now}
    if error is not None:
        values["message"] = ERROR
    session.execute(update(InstanceAction).where(InstanceAction.id == record.action_id).values(**values))


@contextmanager
def action_event(
    db: Database, ctxt: RequestContext, instance_uuid: str, event: str, host: str | None
) -> Iterator[None]:
    """Record `event` of the request's action around the block; a failure is recorded, then re-raised."""
    try:
        event_id = db.write(lambda session: start_event(session, ctxt, instance_uuid, event, host))
    except Exception:
        LOG.exception("[%s] Could not record event %s of instance %s", ctxt.request_id, event, instance_uuid)
        event_id = None
    try:
        yield
    except BaseException as exc:
        if event_id is not None:
            db.write(functools.partial(finish_event, event_id=event_id, error=exc))
        raise
    if event_id is not None:
        db.write(functools.partial(finish_event, event_id=event_id, error=None))


def list_actions(
    session: Session, instance_uuid: str, *, changes_since: datetime | None = None, marker: str | None = None,
    limit: int | None = None, changes_before: datetime | None = None,
) -> list[InstanceAction]:  # fmt: skip
    """Newest first, as Nova lists them; from compute API 2.58 a page after the action `marker` (its
    request id) of at most `limit`, changed at or after `changes_since` (and from 2.66 at or before
    `changes_before`)."""
    stmt = select(InstanceAction).where(InstanceAction.instance_uuid == instance_uuid)
    changed = func.coalesce(InstanceAction.updated_at, InstanceAction.start_time)
    if changes_since is not None:
        stmt = stmt.where(changed >= changes_since)
    if changes_before is not None:
        stmt = stmt.where(changed <= changes_before)
    if marker is not None:
        found = _find_action(session, instance_uuid, marker)
        if found is None:
            raise errors.BadRequest(f"Marker {marker} could not be found.")
        stmt = stmt.where(or_(
            InstanceAction.start_time < found.start_time,
            and_(InstanceAction.start_time == found.start_time, InstanceAction.id < found.id),
        ))  # fmt: skip
    stmt = stmt.order_by(InstanceAction.start_time.desc(), InstanceAction.id.desc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))


class InstanceActionReader:
    """What the os-instance-actions router reads, each in a reader of its own."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def actions_of(
        self, instance_uuid: str, *, changes_since: datetime | None, marker: str | None, limit: int | None,
        changes_before: datetime | None = None,
    ) -> list[InstanceAction]:  # fmt: skip
        with self.db.reader() as session:
            return list_actions(
                session, instance_uuid, changes_since=changes_since, marker=marker, limit=limit,
                changes_before=changes_before,
            )  # fmt: skip

    def action(self, instance_uuid: str, request_id: str) -> ActionRecord:
        with self.db.reader() as session:
            return get_action(session, instance_uuid, request_id)


def get_action(session: Session, instance_uuid: str, request_id: str) -> ActionRecord:
    action = _find_action(session, instance_uuid, request_id)
    if action is None:
        raise errors.NotFound(f"Action {request_id} not found")
    events = list(
        session.scalars(
            select(InstanceActionEvent)
            .where(InstanceActionEvent.action_id == action.id)
            .order_by(InstanceActionEvent.start_time.desc(), InstanceActionEvent.id.desc())
        )
    )
    return ActionRecord(action, events)
