"""Block Storage quotas (Cinder's names and defaults), counted in the resource's own transaction.

Besides the project-wide counters, each volume type has its own (`volumes_<type>`, `gigabytes_<type>`,
`snapshots_<type>`), unlimited unless set. The API consumes on create; whoever removes the resource
(the volume service, after deleting the data) releases in the transaction that deletes the row, with
`release_volume` / `release_snapshot`.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.quota import QuotaClassLimit, QuotaLimit, QuotaUsage
from overcast.db.models.volume import Snapshot, Volume, VolumeType
from overcast.errors import BadRequest, QuotaExceeded, RequestTooLarge
from overcast.quota import DEFAULT_CLASS, UNLIMITED, QuotaEngine

# Cinder's [DEFAULT] quota_* options.
VOLUME_QUOTA_DEFAULTS: dict[str, int] = {
    "volumes": 10,
    "gigabytes": 1000,
    "snapshots": 10,
    "backups": 10,
    "backup_gigabytes": 1000,
    "groups": 10,
    "per_volume_gigabytes": UNLIMITED,
}
PER_TYPE_PREFIXES = ("volumes", "gigabytes", "snapshots")
# A limit, not a counter: checked against each volume's size.
PER_VOLUME_GIGABYTES = "per_volume_gigabytes"


def per_type_resources(type_name: str) -> tuple[str, ...]:
    return tuple(f"{prefix}_{type_name}" for prefix in PER_TYPE_PREFIXES)


def _is_per_type(resource: str) -> bool:
    return any(resource.startswith(f"{prefix}_") for prefix in PER_TYPE_PREFIXES) and resource not in (
        VOLUME_QUOTA_DEFAULTS
    )


class VolumeQuotaEngine(QuotaEngine):
    """The shared engine with the volume types' own counters added for every existing type."""

    def __init__(self) -> None:
        super().__init__(VOLUME_QUOTA_DEFAULTS)

    def _check_resources(self, names: Mapping[str, int]) -> None:
        unknown = sorted(name for name in names if name not in self.defaults and not _is_per_type(name))
        if unknown:
            raise BadRequest(f"Bad key(s) in quota set: {', '.join(unknown)}")

    @staticmethod
    def _type_names(session: Session) -> list[str]:
        return list(session.scalars(select(VolumeType.name).order_by(VolumeType.name)))

    def get_defaults(self, session: Session) -> dict[str, int]:
        limits = super().get_defaults(session)
        for name in self._type_names(session):
            for resource in per_type_resources(name):
                limits[resource] = UNLIMITED
        query = select(QuotaClassLimit).where(QuotaClassLimit.class_name == DEFAULT_CLASS)
        for row in session.scalars(query):
            if row.resource in limits:
                limits[row.resource] = row.hard_limit
        return limits

    def get_limits(self, session: Session, project_id: str) -> dict[str, int]:
        limits = self.get_defaults(session)
        for row in session.scalars(select(QuotaLimit).where(QuotaLimit.project_id == project_id)):
            if row.resource in limits:
                limits[row.resource] = row.hard_limit
        return limits

    def get_usage(self, session: Session, project_id: str) -> dict[str, int]:
        usage = dict.fromkeys(self.get_defaults(session), 0)
        usage.pop(PER_VOLUME_GIGABYTES, None)
        for row in session.scalars(select(QuotaUsage).where(QuotaUsage.project_id == project_id)):
            if row.resource in usage:
                usage[row.resource] = row.in_use
        return usage


def volume_deltas(volume: Volume, type_name: str) -> dict[str, int]:
    if not volume.use_quota:
        return {}
    return {
        "volumes": 1,
        "gigabytes": volume.size,
        f"volumes_{type_name}": 1,
        f"gigabytes_{type_name}": volume.size,
    }


def _type_name(session: Session, volume_type_id: str | None) -> str:
    volume_type = session.get(VolumeType, volume_type_id) if volume_type_id else None
    return volume_type.name if volume_type is not None else ""


def consume_volume(session: Session, engine: VolumeQuotaEngine, volume: Volume, type_name: str) -> None:
    """Count a new volume, or raise Cinder's 413 and count nothing."""
    limits = engine.get_limits(session, volume.project_id)
    per_volume = limits.get(PER_VOLUME_GIGABYTES, UNLIMITED)
    if per_volume != UNLIMITED and volume.size > per_volume:
        raise RequestTooLarge(
            f"Requested volume size {volume.size}G is larger than maximum allowed limit {per_volume}G."
        )
    try:
        engine.consume(session, volume.project_id, volume_deltas(volume, type_name))
    except QuotaExceeded as exceeded:
        raise quota_error(exceeded, volume.size) from None


def quota_error(exceeded: QuotaExceeded, size: int) -> RequestTooLarge:
    """Cinder's words for the counter that ran out."""
    resource = str(exceeded.details.get("resource", ""))
    limit = exceeded.details.get("limit")
    used = exceeded.details.get("used")
    if resource.startswith("gigabytes"):
        return RequestTooLarge(
            "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed "
            f"{resource} quota. Requested {size}G, quota is {limit}G and {used}G has been consumed."
        )
    if resource.startswith("snapshots"):
        return RequestTooLarge(f"Maximum number of snapshots allowed ({limit}) exceeded")
    return RequestTooLarge(
        f"VolumeLimitExceeded: Maximum number of volumes allowed ({limit}) exceeded for quota '{resource}'."
    )


def release_volume(session: Session, volume: Volume, engine: VolumeQuotaEngine | None = None) -> None:
    """Give back what `volume` counted (call in the transaction that deletes its row)."""
    deltas = volume_deltas(volume, _type_name(session, volume.volume_type_id))
    if deltas:
        (engine or VolumeQuotaEngine()).release(session, volume.project_id, deltas)


def snapshot_deltas(snapshot: Snapshot, type_name: str) -> dict[str, int]:
    if not snapshot.use_quota:
        return {}
    return {"snapshots": 1, "gigabytes": snapshot.volume_size, f"snapshots_{type_name}": 1,
            f"gigabytes_{type_name}": snapshot.volume_size}  # fmt: skip


def release_snapshot(session: Session, snapshot: Snapshot, engine: VolumeQuotaEngine | None = None) -> None:
    """Give back what `snapshot` counted (call in the transaction that deletes its row)."""
    deltas = snapshot_deltas(snapshot, _type_name(session, snapshot.volume_type_id))
    if deltas:
        (engine or VolumeQuotaEngine()).release(session, snapshot.project_id, deltas)
