"""Volume and snapshot statuses (Cinder's strings) and the one table of which action may start from which
status.

Clients poll for `available` and `in-use` literally, so the strings are Cinder's. Every status change is
a compare-and-swap, ``UPDATE volumes SET status = :new WHERE id = :id AND status IN :expected``: of two
concurrent actions only one starts, and a writer that lost the race gets False and must not act as if
its change happened. `RECOVERY` says what a volume service that died mid-operation leaves behind.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import update
from sqlalchemy.orm import Session

from overcast.db.base import utcnow
from overcast.db.models.volume import Snapshot, Volume

# --- volume status -------------------------------------------------------------------------------------
CREATING: Final = "creating"
AVAILABLE: Final = "available"
RESERVED: Final = "reserved"
ATTACHING: Final = "attaching"
IN_USE: Final = "in-use"
DETACHING: Final = "detaching"
MAINTENANCE: Final = "maintenance"
DELETING: Final = "deleting"
AWAITING_TRANSFER: Final = "awaiting-transfer"
ERROR: Final = "error"
ERROR_DELETING: Final = "error_deleting"
BACKING_UP: Final = "backing-up"
RESTORING_BACKUP: Final = "restoring-backup"
ERROR_BACKING_UP: Final = "error_backing-up"
ERROR_RESTORING: Final = "error_restoring"
ERROR_EXTENDING: Final = "error_extending"
DOWNLOADING: Final = "downloading"
UPLOADING: Final = "uploading"
RETYPING: Final = "retyping"
EXTENDING: Final = "extending"
REVERTING: Final = "reverting"
ERROR_MANAGING: Final = "error_managing"

VOLUME_STATUSES: Final = (
    CREATING, AVAILABLE, RESERVED, ATTACHING, IN_USE, DETACHING, MAINTENANCE, DELETING, AWAITING_TRANSFER,
    ERROR, ERROR_DELETING, BACKING_UP, RESTORING_BACKUP, ERROR_BACKING_UP, ERROR_RESTORING, ERROR_EXTENDING,
    DOWNLOADING, UPLOADING, RETYPING, EXTENDING, REVERTING, ERROR_MANAGING,
)  # fmt: skip

# --- volume attach_status and attachment rows' attach_status ------------------------------------------
DETACHED: Final = "detached"
ATTACHED: Final = "attached"
ATTACHMENT_RESERVED: Final = "reserved"
ATTACHMENT_ATTACHING: Final = "attaching"
ATTACHMENT_DETACHING: Final = "detaching"
ERROR_ATTACHING: Final = "error_attaching"
ERROR_DETACHING: Final = "error_detaching"

# --- snapshot status --------------------------------------------------------------------------------------
SNAPSHOT_CREATING: Final = "creating"
SNAPSHOT_AVAILABLE: Final = "available"
SNAPSHOT_DELETING: Final = "deleting"
SNAPSHOT_ERROR: Final = "error"
SNAPSHOT_ERROR_DELETING: Final = "error_deleting"
SNAPSHOT_BACKING_UP: Final = "backing-up"
SNAPSHOT_RESTORING: Final = "restoring"

SNAPSHOT_STATUSES: Final = (
    SNAPSHOT_CREATING, SNAPSHOT_AVAILABLE, SNAPSHOT_DELETING, SNAPSHOT_ERROR, SNAPSHOT_ERROR_DELETING,
    SNAPSHOT_BACKING_UP, SNAPSHOT_RESTORING,
)  # fmt: skip


@dataclass(frozen=True)
class Transition:
    """An action may start when the volume's status is in `expected`; it sets `during` (None: the
    action changes no status) and, when it finishes, the volume goes to `done` (None: back to the
    status it started from)."""

    expected: frozenset[str]
    during: str | None
    done: str | None


def _t(expected: Collection[str], during: str | None, done: str | None = None) -> Transition:
    return Transition(frozenset(expected), during, done)


# The guards are Cinder's (cinder/volume/api.py's conditional updates and status checks).
ACTIONS: Final[dict[str, Transition]] = {
    "delete": _t({AVAILABLE, ERROR, ERROR_RESTORING, ERROR_EXTENDING, ERROR_MANAGING}, DELETING),
    # An admin's force delete takes any status that holds no attachment (checked separately).
    "force_delete": _t(set(VOLUME_STATUSES) - {DELETING}, DELETING),
    "extend": _t({AVAILABLE}, EXTENDING, AVAILABLE),
    # 3.42: extending an attached volume also resizes the guest's disk.
    "extend_attached": _t({IN_USE}, EXTENDING, IN_USE),
    "reserve": _t({AVAILABLE}, RESERVED),
    # Multiattach volumes take further attachments while attached.
    "reserve_multiattach": _t({AVAILABLE, IN_USE}, RESERVED),
    "unreserve": _t({RESERVED}, AVAILABLE),
    "attaching": _t({RESERVED, IN_USE, AVAILABLE}, ATTACHING),
    "attach_complete": _t({ATTACHING, RESERVED, IN_USE}, IN_USE),
    "begin_detaching": _t({IN_USE}, DETACHING),
    "roll_detaching": _t({DETACHING}, IN_USE),
    "upload_to_image": _t({AVAILABLE}, UPLOADING),
    "upload_to_image_force": _t({AVAILABLE, IN_USE}, UPLOADING),
    "update_readonly": _t({AVAILABLE}, None),
    "retype": _t({AVAILABLE, IN_USE}, RETYPING),
    "backup": _t({AVAILABLE}, BACKING_UP),
    "backup_force": _t({AVAILABLE, IN_USE}, BACKING_UP),
    "restore_backup": _t({AVAILABLE}, RESTORING_BACKUP, AVAILABLE),
    "snapshot": _t({AVAILABLE}, None),
    "snapshot_force": _t({AVAILABLE, IN_USE}, None),
    "transfer": _t({AVAILABLE}, AWAITING_TRANSFER),
    "accept_transfer": _t({AWAITING_TRANSFER}, AVAILABLE),
    "revert_to_snapshot": _t({AVAILABLE}, REVERTING, AVAILABLE),
    # 3.68 os-reimage: an image written over the volume; `reserved` (compute rebuilding its server) only
    # when asked for. Done: back to `reserved`, else `available`.
    "reimage": _t({AVAILABLE, ERROR}, DOWNLOADING),
    "reimage_reserved": _t({AVAILABLE, ERROR, RESERVED}, DOWNLOADING),
}

# A transitional status a volume service left behind when it died mid-operation → where the volume goes
# at that service's next start. None: back to where it was (the data is untouched: an upload or backup
# only read it), i.e. `in-use` when attached, else `available`.
RECOVERY: Final[dict[str, str | None]] = {
    CREATING: ERROR,
    DOWNLOADING: ERROR,
    DELETING: ERROR_DELETING,
    EXTENDING: ERROR_EXTENDING,
    RESTORING_BACKUP: ERROR_RESTORING,
    REVERTING: ERROR,
    UPLOADING: None,
    BACKING_UP: None,
    RETYPING: None,
}

SNAPSHOT_RECOVERY: Final[dict[str, str]] = {
    SNAPSHOT_CREATING: SNAPSHOT_ERROR,
    SNAPSHOT_DELETING: SNAPSHOT_ERROR_DELETING,
    SNAPSHOT_BACKING_UP: SNAPSHOT_AVAILABLE,
    SNAPSHOT_RESTORING: SNAPSHOT_AVAILABLE,
}


def recovery_status(status: str, attach_status: str) -> str | None:
    """Where a volume in `status` goes when its service restarts (None: it is not transitional)."""
    if status not in RECOVERY:
        return None
    target = RECOVERY[status]
    if target is None:
        return IN_USE if attach_status == ATTACHED else AVAILABLE
    return target


def change_status(
    session: Session, volume_id: str, expected: Collection[str], new: str, **columns: Any
) -> bool:
    """Set the volume's status to `new` (and `columns`) only if it is still one of `expected`."""
    values = {"status": new, "updated_at": utcnow(), **columns}
    stmt = (
        update(Volume)
        .where(Volume.id == volume_id, Volume.status.in_(list(expected)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


def change_snapshot_status(
    session: Session, snapshot_id: str, expected: Collection[str], new: str, **columns: Any
) -> bool:
    """The snapshot's compare-and-swap, as `change_status`."""
    values = {"status": new, "updated_at": utcnow(), **columns}
    stmt = (
        update(Snapshot)
        .where(Snapshot.id == snapshot_id, Snapshot.status.in_(list(expected)))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    result = session.execute(stmt)
    return bool(getattr(result, "rowcount", 0) == 1)


def start(session: Session, volume_id: str, action: str, **columns: Any) -> bool:
    """Start `action` by its table row: CAS from its expected statuses to its `during` status, keeping
    the status it started from in previous_status. An action with no `during` status is checked only
    (the caller holds the row in the same transaction)."""
    transition = ACTIONS[action]
    if transition.during is None:
        volume = session.get(Volume, volume_id)
        return volume is not None and volume.status in transition.expected
    current = session.get(Volume, volume_id)
    if current is None or current.status not in transition.expected:
        return False
    return change_status(
        session, volume_id, {current.status}, transition.during, previous_status=current.status, **columns
    )
