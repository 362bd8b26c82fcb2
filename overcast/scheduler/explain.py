"""A dry run of the scheduler, for admins: `overcast manage scheduler explain --flavor F --image I` prints
it, and the compute API's GET /flavors/{flavor_id}/os-scheduler-explain answers it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select

from overcast import errors
from overcast.cloud import Cloud
from overcast.db.models.compute import Flavor
from overcast.placement.resources import Wanted
from overcast.scheduler.core import Scheduler
from overcast.scheduler.request_spec import build_spec
from overcast.scheduler.selector import NO_VALID_HOST, FilterReport


@dataclass(frozen=True)
class Explanation:
    """A dry run's outcome: what each filter removed for the flavor, and the hosts that would win."""

    flavor_id: str
    flavor_name: str
    vcpus: int
    memory_mb: int
    disk_gb: int
    image_id: str | None
    preset: str
    hosts_known: int
    filters: tuple[FilterReport, ...]
    # (host, node) of the hosts that pass, best first; empty when no host is valid.
    chosen: tuple[tuple[str, str], ...]
    passing: int
    # The NoValidHost message a boot of this flavor would get now; None when a host is valid.
    no_valid_host: str | None


class SchedulerDryRun:
    """The scheduler's decision for a flavor without making it: nothing is claimed, nothing is sent."""

    def __init__(self, cloud: Cloud) -> None:
        self.cloud = cloud

    def explain(
        self,
        flavor: str,
        image: str | None = None,
        *,
        availability_zone: str | None = None,
        project_id: str = "",
        hints: dict[str, Any] | None = None,
        show: int = 5,
    ) -> Explanation:
        """`flavor` is a flavor's id (or, for the CLI, its name)."""
        cloud = self.cloud
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
        return Explanation(
            flavor_id=row.flavorid,
            flavor_name=row.name,
            vcpus=spec.wanted.vcpus,
            memory_mb=spec.wanted.memory_mb,
            disk_gb=spec.wanted.disk_gb,
            image_id=image,
            preset=cloud.settings.scheduler.preset,
            hosts_known=len(scheduler.cache.table.all_indices()),
            filters=tuple(selection.reports),
            chosen=tuple((hosts[i].host, hosts[i].nodename) for i in selection.indices),
            passing=selection.candidates,
            no_valid_host=None if selection.indices else f"{NO_VALID_HOST} {selection.explanation()}",
        )


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
    found = SchedulerDryRun(cloud).explain(
        flavor, image, availability_zone=availability_zone, project_id=project_id, hints=hints, show=show
    )
    lines = [
        f"Flavor {found.flavor_name}: {found.vcpus} vCPUs, {found.memory_mb} MB RAM, "
        f"{found.disk_gb} GB disk; image {image or '-'}; preset {found.preset}",
        f"{found.hosts_known} compute nodes known",
    ]
    lines += [f"  {report.text()}" for report in found.filters]
    if found.no_valid_host is None:
        lines.append(f"{found.passing} hosts pass; best first:")
        lines += [f"  {host} ({node})" for host, node in found.chosen]
    else:
        lines.append(found.no_valid_host)
    return "\n".join(lines)
