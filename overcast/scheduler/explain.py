"""`overcast manage scheduler explain --flavor F --image I`: a dry run of the scheduler, for admins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from overcast import errors
from overcast.cloud import Cloud
from overcast.db.models.compute import Flavor
from overcast.placement.resources import Wanted
from overcast.scheduler.core import Scheduler
from overcast.scheduler.request_spec import build_spec


def explain(
    cloud: Cloud,
    flavor: str,
    image: str | None = None,
    *,
    availability_zone: str | None = None,
    project_id: str = "",
    hints: dict[str, Any] | None = None,
    show: int = 5,
) -> str:
    """What every filter would remove for this flavor and image right now, and the hosts that would win."""
    with cloud.db.reader() as session:
        row = session.scalars(
            select(Flavor).where(or_(Flavor.flavorid == flavor, Flavor.name == flavor))
        ).first()
        if row is None:
            raise errors.NotFound(f"Flavor {flavor} could not be found.")
        spec = build_spec(
            session,
            wanted=Wanted(row.vcpus, row.memory_mb, row.root_gb + row.ephemeral_gb),
            project_id=project_id,
            flavor=row,
            image_id=image,
            availability_zone=availability_zone,
            hints=hints,
        )
    scheduler = Scheduler(cloud.db, cloud.settings, cloud.clock)
    selection = scheduler.select(spec, num_alternates=max(0, show - 1))
    hosts = scheduler.cache.table.hosts
    lines = [
        f"Flavor {row.name}: {spec.wanted.vcpus} vCPUs, {spec.wanted.memory_mb} MB RAM, "
        f"{spec.wanted.disk_gb} GB disk; image {image or '-'}; preset {cloud.settings.scheduler.preset}",
        f"{len(scheduler.cache.table.all_indices())} compute nodes known",
    ]
    lines += [f"  {report.text()}" for report in selection.reports]
    if selection.indices:
        lines.append(f"{selection.candidates} hosts pass; best first:")
        lines += [f"  {hosts[i].host} ({hosts[i].nodename})" for i in selection.indices]
    else:
        lines.append(f"No valid host was found. {selection.explanation()}")
    return "\n".join(lines)
