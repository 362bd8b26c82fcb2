"""ModifyVolume and DescribeVolumesModifications: each ModifyVolume is recorded (ec2_volume_modifications),
and what its record says is read from the volume service's real outcome.

A modification is `modifying` while the volume service works on it (the volume `extending`), `completed`
once the volume has the target size and type, `failed` (with the volume service's reason) when the
extend ends in `error_extending`, the volume is deleted, or the volume service settles without the target.
The volume service has nothing to tune after a resize, so `optimizing` (EBS's performance phase) is never
entered. The record is brought up to date when it is read, each change a compare-and-swap on its state,
so two readers that see the same outcome write it once and a finished record never changes again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.engine import Database
from overcast.db.models.ec2 import Ec2VolumeModification
from overcast.ec2 import ids, volumes
from overcast.ec2.actions import Action
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value, missing_parameter
from overcast.ec2.filtering import FilterTable
from overcast.ec2.pagination import PageRules, page
from overcast.ec2.params import filters_of
from overcast.ec2.volumes import MAX_SIZE_GIB, VOLUME_LIMIT, VOLUME_NOT_FOUND
from overcast.volume import policies as volume_policies
from overcast.volume.api.records import Record

MODIFYING, OPTIMIZING, COMPLETED, FAILED = "modifying", "optimizing", "completed", "failed"
IN_PROGRESS = frozenset({MODIFYING, OPTIMIZING})
# The volume service's statuses while it is changing a volume's size or type.
_CHANGING = frozenset({"extending", "retyping"})
_EXTEND_FAILED = "error_extending"


@dataclass(frozen=True)
class VolumeSeen:
    """What the volume service shows of a modified volume now."""

    status: str
    size: int
    volume_type: str
    fail_reason: str | None = None

    @classmethod
    def of(cls, record: Record) -> VolumeSeen:
        return cls(str(record["status"]), int(record["size"]), str(record["volume_type"]),
                   record.get("_fail_reason"))  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    """Where a modification goes: its new state, progress and (when it failed) why."""

    state: str
    progress: int
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.state not in IN_PROGRESS


def derive(row: Ec2VolumeModification, seen: VolumeSeen | None) -> Outcome | None:
    """The outcome the volume service's view of the volume (None: the volume is gone) says the modification
    has reached, or None when it stays as it is."""
    if row.state not in IN_PROGRESS:
        return None
    if seen is None:
        return Outcome(FAILED, row.progress, "The volume was deleted before its modification finished.")
    if seen.status == _EXTEND_FAILED:
        reason = seen.fail_reason or "The volume service could not extend the volume."
        return Outcome(FAILED, row.progress, reason)
    if not row.accepted or seen.status in _CHANGING:
        return None
    if seen.size >= row.target_size and seen.volume_type == row.target_volume_type:
        return Outcome(COMPLETED, 100)
    return Outcome(
        FAILED, row.progress,
        f"The volume service left the volume at {seen.size} GiB of type {seen.volume_type} "
        f"({seen.status}) instead of {row.target_size} GiB of type {row.target_volume_type}.",
    )  # fmt: skip


# --- the records ---------------------------------------------------------------------------------------
def _changes(outcome: Outcome | None, now: datetime) -> dict[str, Any]:
    if outcome is None:
        return {}
    values: dict[str, Any] = {"state": outcome.state, "progress": outcome.progress}
    if outcome.message is not None:
        values["status_message"] = outcome.message
    if outcome.finished:
        values["end_time"] = now
    return values


def _store(db: Database, row: Ec2VolumeModification, values: dict[str, Any]) -> None:
    """Write `values` by compare-and-swap on the state the row was read in, and update the row in place;
    when another reader moved the record first, the row shows what that reader wrote."""
    if not values:
        return

    def swap(session: Session) -> bool:
        result = session.execute(
            update(Ec2VolumeModification)
            .where(Ec2VolumeModification.id == row.id, Ec2VolumeModification.state == row.state)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    if db.write(swap):
        for name, value in values.items():
            setattr(row, name, value)
        return
    with db.reader() as session:
        fresh = session.get(Ec2VolumeModification, row.id)
        if fresh is not None:
            row.state, row.progress, row.accepted = fresh.state, fresh.progress, fresh.accepted
            row.status_message, row.end_time = fresh.status_message, fresh.end_time


def _latest(
    session: Session, project_id: str, volume_uuids: Sequence[str] | None
) -> list[Ec2VolumeModification]:
    """Each volume's most recent modification in the project (all its volumes when `volume_uuids` is None),
    in the order they began."""
    model = Ec2VolumeModification
    latest = select(func.max(model.id)).where(model.project_id == project_id).group_by(model.volume_uuid)
    if volume_uuids is not None:
        latest = latest.where(model.volume_uuid.in_(list(volume_uuids)))
    return list(
        session.scalars(select(model).where(model.id.in_(latest.scalar_subquery())).order_by(model.id))
    )


def _seen(backends: Backends, request: Ec2Request, volume_uuid: str) -> VolumeSeen | None:
    try:
        return VolumeSeen.of(backends.compute.volumes.get(request.context, volume_uuid))
    except errors.NotFound:
        return None


def refresh(
    db: Database,
    clock: Callable[[], datetime],
    rows: Sequence[Ec2VolumeModification],
    seen: Callable[[str], VolumeSeen | None],
) -> None:
    """Bring each unfinished record up to what `seen` says of its volume now (rows are updated in place)."""
    for row in rows:
        if row.state in IN_PROGRESS:
            _store(db, row, _changes(derive(row, seen(row.volume_uuid)), clock()))


def _view(row: Ec2VolumeModification) -> dict[str, Any]:
    # Overcast's volume types set no IOPS or throughput: AWS leaves those out when a volume has none.
    return {
        "volumeId": row.volume_ec2_id, "modificationState": row.state, "statusMessage": row.status_message,
        "targetSize": row.target_size, "targetVolumeType": row.target_volume_type,
        "targetMultiAttachEnabled": row.target_multi_attach, "originalSize": row.original_size,
        "originalVolumeType": row.original_volume_type,
        "originalMultiAttachEnabled": row.original_multi_attach, "progress": row.progress,
        "startTime": row.start_time, "endTime": row.end_time,
    }  # fmt: skip


# --- ModifyVolume ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Asked:
    size: int | None
    volume_type: str | None


def _asked(request: Ec2Request) -> Asked:
    params = request.params
    size = params.integer("Size", low=1, high=MAX_SIZE_GIB)
    volume_type = params.get("VolumeType")
    for other in ("Iops", "Throughput", "MultiAttachEnabled"):
        if params.has(other):
            raise invalid_value(
                other, params.get(other), "Only a volume's Size and VolumeType can be modified."
            )
    if size is None and not volume_type:
        raise missing_parameter("Size")
    return Asked(size, volume_type or None)


def _new_row(values: dict[str, Any]) -> Ec2VolumeModification:
    return Ec2VolumeModification(**values)


def begin(db: Database, clock: Callable[[], datetime], project_id: str, volume_id: str, record: Record,
          asked: Asked) -> Ec2VolumeModification:  # fmt: skip
    """Record the modification (`modifying`, not yet accepted), unless the volume's last one is still in
    progress: AWS takes one modification of a volume at a time. The answer is the record as written."""
    volume_uuid = str(record["id"])
    values: dict[str, Any] = {
        "project_id": project_id, "volume_uuid": volume_uuid,
        "volume_ec2_id": volume_id, "state": MODIFYING, "accepted": False, "status_message": None,
        "original_size": int(record["size"]), "target_size": asked.size or int(record["size"]),
        "original_volume_type": str(record["volume_type"]),
        "target_volume_type": asked.volume_type or str(record["volume_type"]),
        "original_multi_attach": bool(record["multiattach"]),
        "target_multi_attach": bool(record["multiattach"]),
        "progress": 0, "start_time": clock(), "end_time": None,
    }  # fmt: skip

    def write(session: Session) -> int:
        busy = session.scalar(
            select(Ec2VolumeModification.id).where(
                Ec2VolumeModification.project_id == project_id,
                Ec2VolumeModification.volume_uuid == volume_uuid,
                Ec2VolumeModification.state.in_(list(IN_PROGRESS)),
            )
        )
        if busy is not None:
            raise Ec2Error(
                "IncorrectModificationState",
                f"Volume {volume_id} cannot be modified in modification state {MODIFYING}.",
            )
        row = _new_row(values)
        session.add(row)
        session.flush()
        return row.id

    return _new_row({**values, "id": db.write(write)})


def settle(db: Database, clock: Callable[[], datetime], row: Ec2VolumeModification, seen: VolumeSeen | None,
           message: str | None = None) -> None:  # fmt: skip
    """The volume service took the modification: record that (with the error it answered, if any) and
    the outcome the volume shows, in one compare-and-swap."""
    values: dict[str, Any] = {"accepted": True}
    if message is not None:
        values["status_message"] = message
    row.accepted = True
    _store(db, row, {**values, **_changes(derive(row, seen), clock())})


def _refused(db: Database, row_id: int) -> None:
    """The volume service refused the change before starting it: there was no modification."""
    db.write(lambda session: session.execute(
        delete(Ec2VolumeModification).where(Ec2VolumeModification.id == row_id,
                                            Ec2VolumeModification.accepted.is_(False))
    ))  # fmt: skip


@dataclass
class _Applied:
    """How far ModifyVolume's requests to the volume service got."""

    retyped: bool = False


def _apply(backends: Backends, request: Ec2Request, record: Record, asked: Asked, applied: _Applied) -> None:
    """Ask the volume service for the new type (changed in place, in one transaction), then the new size
    (checked and started in one transaction, then grown by the volume host); its errors propagate."""
    volume_uuid = str(record["id"])
    if asked.volume_type and asked.volume_type != record["volume_type"]:
        try:
            backends.compute.volumes.volumes.retype(request.context, volume_uuid, asked.volume_type, None)
        except errors.NotFound:
            raise invalid_value(
                "VolumeType", asked.volume_type, "This cloud has no such volume type."
            ) from None
        applied.retyped = True
    if asked.size is not None and asked.size != record["size"]:
        backends.compute.volumes.volumes.extend(request.context, volume_uuid, asked.size, attached_ok=True)


def _failed_on_host(error: Exception) -> bool:
    """Whether the volume service had started the change when `error` came: its checks answer a client
    error before changing anything; the volume host's failure or silence comes after `extending`."""
    return isinstance(error, errors.OvercastError) and (
        isinstance(error, errors.MessagingTimeout) or error.status >= 500
    )


def modify_volume(backends: Backends, request: Ec2Request) -> Response:
    """A new size (the volume host grows it) and/or a new type (one of the cloud's volume types, changed in
    place by the volume service's retype). EBS's performance knobs have no match here. The answer is the
    modification's record as the volume service's outcome has brought it so far."""
    asked = _asked(request)
    volume_id = request.params.required("VolumeId")
    volume_uuid = volumes.volume_uuid(backends, request, volume_id)
    record = backends.compute.volumes.get(request.context, volume_uuid)
    row = begin(backends.db, backends.clock, request.project_id, volume_id, record, asked)
    applied = _Applied()
    try:
        _apply(backends, request, record, asked, applied)
    except (errors.OvercastError, Ec2Error) as error:
        seen = _seen(backends, request, volume_uuid)
        if not (applied.retyped or _failed_on_host(error)):
            _refused(backends.db, row.id)
            if seen is not None and seen.status in _CHANGING:  # another change of the volume is under way
                raise Ec2Error(
                    "IncorrectModificationState",
                    f"Volume {volume_id} is being modified ({seen.status}); try again when it is done.",
                ) from None
            raise
        settle(backends.db, backends.clock, row, seen, error.message)
    else:
        settle(backends.db, backends.clock, row, _seen(backends, request, volume_uuid))
    return {"volumeModification": _view(row)}


# --- DescribeVolumesModifications ----------------------------------------------------------------------
def _time_text(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


MODIFICATION_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "modification-state": lambda v: v["modificationState"],
    "original-iops": lambda v: v.get("originalIops"),
    "original-size": lambda v: v["originalSize"],
    "original-volume-type": lambda v: v["originalVolumeType"],
    "originalMultiAttachEnabled": lambda v: v["originalMultiAttachEnabled"],
    "start-time": lambda v: _time_text(v["startTime"]),
    "target-iops": lambda v: v.get("targetIops"),
    "target-size": lambda v: v["targetSize"],
    "target-volume-type": lambda v: v["targetVolumeType"],
    "targetMultiAttachEnabled": lambda v: v["targetMultiAttachEnabled"],
    "volume-id": lambda v: v["volumeId"],
})  # fmt: skip


def describe_volumes_modifications(backends: Backends, request: Ec2Request) -> Response:
    wanted = request.params.strings("VolumeId")
    filters = filters_of(request.params)
    MODIFICATION_FILTERS.check(filters)
    # The volumes asked for (another project's: InvalidVolume.NotFound), else all the caller's, read once:
    # a deleted volume's modifications are no longer shown, and the others' records are brought up to
    # what their volumes show.
    volume_uuids: list[str] | None = None
    if wanted:
        found = backends.resolve(request.context, wanted, (ids.VOLUME,))
        volume_uuids = [found[volume_id].uuid for volume_id in wanted]
        records = [backends.compute.volumes.get(request.context, volume_uuid) for volume_uuid in volume_uuids]
    else:
        records, _ = backends.compute.volumes.volumes.list(request.context)
    seen = {str(record["id"]): VolumeSeen.of(record) for record in records}
    with backends.db.reader() as session:
        rows = [row for row in _latest(session, request.project_id, volume_uuids) if row.volume_uuid in seen]
        session.expunge_all()
    if wanted:
        modified = {row.volume_ec2_id for row in rows}
        for volume_id in wanted:
            if volume_id not in modified:
                raise Ec2Error("InvalidVolumeModification.NotFound",
                               f"Modification for volume '{volume_id}' does not exist.")  # fmt: skip
    refresh(backends.db, backends.clock, rows, seen.get)
    views = MODIFICATION_FILTERS.apply([_view(row) for row in rows], filters)
    shown, token = page(views, request.params, key=backends.token_key,
                        scope=f"DescribeVolumesModifications:{request.project_id}",
                        rules=PageRules(1, 500))  # fmt: skip
    return {"volumeModificationSet": list(shown), "nextToken": token}


ACTIONS = (
    Action("ModifyVolume", modify_volume, rule=volume_policies.EXTEND, not_found=VOLUME_NOT_FOUND,
           quota=VOLUME_LIMIT),
    Action("DescribeVolumesModifications", describe_volumes_modifications, rule=volume_policies.GET_ALL,
           not_found=VOLUME_NOT_FOUND),
)  # fmt: skip
