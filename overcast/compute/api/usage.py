"""Per-project usage over a period (logic behind /os-simple-tenant-usage), counted from instance rows.

An instance is charged from launched_at (or the period's start) to terminated_at (or the period's end);
instances that never launched cost nothing and are not listed. Deleted instances count for the time they
ran, which is why the rows are read with deleted ones included.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.db.engine import Database
from overcast.db.models.compute import Flavor, Instance
from overcast.db.pagination import paginate

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class ServerUsage:
    instance_id: str
    name: str
    tenant_id: str
    flavor: str
    hours: float
    memory_mb: int
    local_gb: int
    vcpus: int
    started_at: datetime
    ended_at: datetime | None
    state: str
    uptime: int


@dataclass
class TenantUsage:
    tenant_id: str
    start: datetime
    stop: datetime
    total_hours: float = 0.0
    total_memory_mb_usage: float = 0.0
    total_vcpus_usage: float = 0.0
    total_local_gb_usage: float = 0.0
    server_usages: list[ServerUsage] = field(default_factory=list)

    def add(self, usage: ServerUsage) -> None:
        self.total_hours += usage.hours
        self.total_memory_mb_usage += usage.memory_mb * usage.hours
        self.total_vcpus_usage += usage.vcpus * usage.hours
        self.total_local_gb_usage += usage.local_gb * usage.hours
        self.server_usages.append(usage)


def _page(session: Session, stmt: Select[Instance], marker: str | None, limit: int) -> Select[Instance]:
    try:
        return paginate(stmt, Instance, sort_keys=[("created_at", "asc")], marker=marker, limit=limit,
                        session=session)  # fmt: skip
    except errors.BadRequest:
        raise errors.BadRequest(f"Marker {marker} could not be found.") from None


def hours_in_period(
    launched: datetime, terminated: datetime | None, start: datetime, stop: datetime
) -> float:
    begin = max(launched, start)
    end = stop if terminated is None else min(terminated, stop)
    return max(0.0, (end - begin).total_seconds() / SECONDS_PER_HOUR)


class UsageAPI:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def now(self) -> datetime:
        return self.clock()

    def tenant_usages(
        self,
        start: datetime,
        stop: datetime,
        project_id: str | None = None,
        *,
        marker: str | None = None,
        limit: int | None = None,
    ) -> list[TenantUsage]:
        """One summary per project that had an instance running in [start, stop), ordered by project.

        With `limit` (compute API 2.40) only one page of instances counts: at most `limit` of them in
        creation order, after the instance `marker`.
        """
        # Nova caps the period at "now": the future has not been used yet.
        now = self.clock()
        stop = min(stop, now)
        stmt = (
            select(Instance)
            .where(
                Instance.launched_at.is_not(None),
                Instance.launched_at < stop,
                or_(Instance.terminated_at.is_(None), Instance.terminated_at > start),
            )
            .order_by(Instance.project_id, Instance.launched_at, Instance.id)
        )
        if project_id is not None:
            stmt = stmt.where(Instance.project_id == project_id)
        with self.db.reader() as session:
            if limit is not None:
                stmt = _page(session, stmt, marker, limit)
            instances = list(session.scalars(stmt))
            wanted = {instance.flavor_id for instance in instances}
            named = session.execute(select(Flavor.flavorid, Flavor.name).where(Flavor.flavorid.in_(wanted)))
            names = {flavorid: name for flavorid, name in named}
        summaries: dict[str, TenantUsage] = {}
        for instance in instances:
            launched = instance.launched_at
            assert launched is not None  # the query asked for launched instances only
            ended = instance.terminated_at
            uptime_end = ended if ended is not None else now
            usage = ServerUsage(
                instance_id=instance.uuid, name=instance.display_name, tenant_id=instance.project_id,
                flavor=names.get(instance.flavor_id, ""),
                hours=hours_in_period(launched, ended, start, stop), memory_mb=instance.memory_mb,
                local_gb=instance.root_gb + instance.ephemeral_gb, vcpus=instance.vcpus, started_at=launched,
                ended_at=ended, state="terminated" if ended is not None else instance.vm_state,
                uptime=int((uptime_end - launched).total_seconds()),
            )  # fmt: skip
            summary = summaries.setdefault(instance.project_id, TenantUsage(instance.project_id, start, stop))
            summary.add(usage)
        return list(summaries.values())
