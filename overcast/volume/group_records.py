"""Records both sides of generic volume groups share: the group and group snapshot statuses with their
compare-and-swap, and what the volume host does to a group's rows when one of its volumes or snapshots
is finished with.

A group snapshot's member snapshots are made and removed one by one on their volumes' hosts; whichever
finishes last settles the group snapshot (available, or error if any member failed) or removes its row,
under a lock on the group snapshot's row so that two hosts finishing at once cannot both miss the other.
A group made from a source settles when its last volume is made, and a group deleted with its volumes
goes when the last volume's row does.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from overcast.db.base import utcnow
from overcast.db.models.volume import GroupSnapshot, Snapshot, Volume, VolumeGroup, VolumeGroupType
from overcast.quota import QuotaEngine
from overcast.volume import states

# Group statuses (Cinder's GroupStatus).
GROUP_CREATING: Final = "creating"
GROUP_AVAILABLE: Final = "available"
GROUP_UPDATING: Final = "updating"
GROUP_DELETING: Final = "deleting"
GROUP_ERROR: Final = "error"
GROUP_ERROR_DELETING: Final = "error_deleting"
GROUP_IN_USE: Final = "in-use"
GROUP_STATUSES = (
    GROUP_CREATING, GROUP_AVAILABLE, GROUP_UPDATING, GROUP_DELETING, GROUP_ERROR, GROUP_ERROR_DELETING,
    GROUP_IN_USE,
)  # fmt: skip
# Group snapshot statuses (Cinder's GroupSnapshotStatus).
GROUP_SNAPSHOT_CREATING: Final = "creating"
GROUP_SNAPSHOT_AVAILABLE: Final = "available"
GROUP_SNAPSHOT_DELETING: Final = "deleting"
GROUP_SNAPSHOT_ERROR: Final = "error"
GROUP_SNAPSHOT_ERROR_DELETING: Final = "error_deleting"
GROUP_SNAPSHOT_UPDATING: Final = "updating"
GROUP_SNAPSHOT_STATUSES = (
    GROUP_SNAPSHOT_CREATING, GROUP_SNAPSHOT_AVAILABLE, GROUP_SNAPSHOT_DELETING, GROUP_SNAPSHOT_ERROR,
    GROUP_SNAPSHOT_ERROR_DELETING, GROUP_SNAPSHOT_UPDATING,
)  # fmt: skip
GROUPS_QUOTA: Final = "groups"


def _swap(session: Session, model: Any, row_id: str, expected: Collection[str], new: str) -> bool:
    stmt = (
        update(model)
        .where(model.id == row_id, model.status.in_(list(expected)))
        .values(status=new, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(session.execute(stmt), "rowcount", 0) == 1)


def change_group_status(session: Session, group_id: str, expected: Collection[str], new: str) -> bool:
    """Set the group's status to `new` only if it is still one of `expected`."""
    return _swap(session, VolumeGroup, group_id, expected, new)


def hold_available(session: Session, group_id: str) -> bool:
    """Whether the group is available, holding it so (a compare-and-swap onto itself) until the caller's
    transaction ends: what joins it, snapshots it or updates it cannot race a delete."""
    return change_group_status(session, group_id, {GROUP_AVAILABLE}, GROUP_AVAILABLE)


def volume_type_ids(session: Session, group_id: str) -> set[str]:
    """The volume types the group was made for: its volumes are of these."""
    query = select(VolumeGroupType.volume_type_id).where(VolumeGroupType.group_id == group_id)
    return set(session.scalars(query))


def change_group_snapshot_status(
    session: Session, group_snapshot_id: str, expected: Collection[str], new: str
) -> bool:
    return _swap(session, GroupSnapshot, group_snapshot_id, expected, new)


def _locked(session: Session, model: Any, row_id: str) -> Any:
    query = select(model).where(model.id == row_id).with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).first()


def settle_group_snapshot(session: Session, group_snapshot_id: str) -> None:
    """Once no member snapshot is creating, the group snapshot is available, or error if one failed."""
    group_snapshot = _locked(session, GroupSnapshot, group_snapshot_id)
    if group_snapshot is None or group_snapshot.status != GROUP_SNAPSHOT_CREATING:
        return
    statuses = set(
        session.scalars(select(Snapshot.status).where(Snapshot.group_snapshot_id == group_snapshot_id))
    )
    if states.SNAPSHOT_CREATING in statuses:
        return
    settled = GROUP_SNAPSHOT_AVAILABLE if statuses <= {states.SNAPSHOT_AVAILABLE} else GROUP_SNAPSHOT_ERROR
    change_group_snapshot_status(session, group_snapshot_id, {GROUP_SNAPSHOT_CREATING}, settled)


def settle_group(session: Session, group_id: str) -> None:
    """A group made from a source (3.14) is available once none of its volumes is creating, or error if
    one failed."""
    group = _locked(session, VolumeGroup, group_id)
    if group is None or group.status != GROUP_CREATING:
        return
    statuses = set(session.scalars(select(Volume.status).where(Volume.group_id == group_id)))
    if states.CREATING in statuses:
        return
    settled = GROUP_AVAILABLE if statuses <= {states.AVAILABLE} else GROUP_ERROR
    change_group_status(session, group_id, {GROUP_CREATING}, settled)


def fail_group_snapshot_delete(session: Session, group_snapshot_id: str) -> None:
    change_group_snapshot_status(
        session, group_snapshot_id, {GROUP_SNAPSHOT_DELETING}, GROUP_SNAPSHOT_ERROR_DELETING
    )


def remove_group_snapshot_if_emptied(session: Session, group_snapshot_id: str) -> bool:
    """A deleting group snapshot's row goes with its last member snapshot."""
    group_snapshot = _locked(session, GroupSnapshot, group_snapshot_id)
    if group_snapshot is None or group_snapshot.status != GROUP_SNAPSHOT_DELETING:
        return False
    members = session.scalar(
        select(func.count()).select_from(Snapshot).where(Snapshot.group_snapshot_id == group_snapshot_id)
    )
    if members:
        return False
    session.execute(delete(GroupSnapshot).where(GroupSnapshot.id == group_snapshot_id))
    return True


def remove_group(session: Session, group: VolumeGroup, engine: QuotaEngine) -> None:
    """Delete a group's row and give back its `groups` quota (its volumes and snapshots are gone)."""
    engine.release(session, group.project_id, {GROUPS_QUOTA: 1})
    session.execute(delete(VolumeGroup).where(VolumeGroup.id == group.id))


def remove_group_if_emptied(session: Session, group_id: str, engine: QuotaEngine) -> bool:
    """A group deleted with its volumes goes with the last volume's row."""
    group = _locked(session, VolumeGroup, group_id)
    if group is None or group.status != GROUP_DELETING:
        return False
    if session.scalar(select(func.count()).select_from(Volume).where(Volume.group_id == group_id)):
        return False
    remove_group(session, group, engine)
    return True


def fail_group_delete(session: Session, group_id: str) -> None:
    change_group_status(session, group_id, {GROUP_DELETING}, GROUP_ERROR_DELETING)
