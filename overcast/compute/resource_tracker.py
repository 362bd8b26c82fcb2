"""What each hypervisor has and what is claimed on it: the compute_nodes table.

The compute service reports capacity periodically (`ResourceTracker.update_available_resource`) and
recounts usage from the instances assigned to the node, which repairs any drift. Between reports,
claims and releases change the usage counters with compare-and-swap updates, so two builds racing for
the last free memory on a node cannot both win.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import ColumnElement, case, or_, select, update
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import ComputeNode, Instance
from overcast.db.models.instance_actions import InstanceExtra
from overcast.scheduler.device_pools import Held, held_from_json, pools_json, pools_of, total_held, used_after
from overcast.virt.driver import ComputeDriver, HostResources

LOG = logging.getLogger(__name__)

# Nova's initial allocation ratios: vCPUs are overcommitted 16:1, memory 1.5:1, disk not at all.
CPU_ALLOCATION_RATIO = 16.0
RAM_ALLOCATION_RATIO = 1.5
DISK_ALLOCATION_RATIO = 1.0
# A device write loses its compare-and-swap only to another device write committed in between.
DEVICE_WRITE_ATTEMPTS = 5
# A resize's destination is reserved (by the conductor) while its instance is in these tasks.
_DESTINATION_RESERVED = (states.RESIZE_MIGRATING, states.RESIZE_MIGRATED, states.RESIZE_FINISH)


@dataclass(frozen=True)
class Resources:
    """What an instance holds on its node: the one vector every release gives back.

    A claim produces it (overcast.scheduler.claims: the flavor's sizes and the device pools it took)
    and records it on the instance; `of` reads it back, so a release cannot give back other amounts
    than the claim took.
    """

    vcpus: int
    memory_mb: int
    disk_gb: int
    devices: Held = ()

    @classmethod
    def of(cls, instance: Instance) -> Resources:
        return cls.of_flavor(instance, instance.devices)

    @classmethod
    def of_flavor(cls, flavor: Any, devices: Iterable[Mapping[str, Any]] | None = ()) -> Resources:
        """From a flavor-shaped object or dict (vcpus, memory_mb, root_gb, ephemeral_gb) and held devices."""

        def size(name: str) -> int:
            return int(flavor[name] if isinstance(flavor, Mapping) else getattr(flavor, name))

        return cls(size("vcpus"), size("memory_mb"), size("root_gb") + size("ephemeral_gb"),
                   held_from_json(devices))  # fmt: skip


def claim(session: Session, instance_uuid: str, host: str, node: str, wanted: Resources) -> bool:
    """Place a SCHEDULING instance on (host, node) if `wanted` (no devices) fits; see scheduler.claims."""
    from overcast.scheduler import claims

    if wanted.devices:
        raise ValueError("devices are claimed from a request (claims.Wanted), not from held pools")
    sizes = claims.Wanted(wanted.vcpus, wanted.memory_mb, wanted.disk_gb)
    return claims.claim(session, instance_uuid, host, node, sizes) is claims.Outcome.CLAIMED


def release(session: Session, host: str, node: str | None, freed: Resources) -> None:
    """Give back what a claim took (the instance left the node: deleted, moved, or its build failed)."""
    if node is None:
        return
    session.execute(
        update(ComputeNode)
        .where(ComputeNode.host == host, ComputeNode.hypervisor_hostname == node)
        .values(
            vcpus_used=_floor_zero(ComputeNode.vcpus_used - freed.vcpus),
            memory_mb_used=_floor_zero(ComputeNode.memory_mb_used - freed.memory_mb),
            local_gb_used=_floor_zero(ComputeNode.local_gb_used - freed.disk_gb),
            running_vms=_floor_zero(ComputeNode.running_vms - 1),
        )
        .execution_options(synchronize_session=False)
    )
    if freed.devices:
        release_devices(session, host, node, freed.devices)


def release_devices(session: Session, host: str, node: str, held: Held) -> None:
    """Give devices back with a compare-and-swap on the node's device generation (retried if it moved)."""
    for _ in range(DEVICE_WRITE_ATTEMPTS):
        row = node_devices(session, host, node)
        if row is None:
            return
        devices, generation = row
        used = used_after(pools_of(devices), held, -1)
        result = session.execute(
            update(ComputeNode)
            .where(
                ComputeNode.host == host,
                ComputeNode.hypervisor_hostname == node,
                ComputeNode.device_generation == generation,
            )
            .values(devices=pools_json(devices, used), device_generation=generation + 1)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            return
    LOG.warning("Could not give back devices %s on %s/%s; the next report recounts them", held, host, node)


def node_devices(session: Session, host: str, node: str) -> tuple[list[dict[str, Any]], int] | None:
    """A node's device pools (with used counts) and their generation, read for a compare-and-swap."""
    row = session.execute(
        select(ComputeNode.devices, ComputeNode.device_generation).where(
            ComputeNode.host == host, ComputeNode.hypervisor_hostname == node
        )
    ).first()
    return None if row is None else (list(row.devices or ()), int(row.device_generation))


def _floor_zero(value: ColumnElement[int]) -> ColumnElement[int]:
    # A release after the periodic recount already dropped the instance must not go negative.
    return case((value < 0, 0), else_=value)


class ResourceTracker:
    """Keeps this host's compute_nodes row true: capacity from the driver, usage from its instances."""

    def __init__(self, db: Database, host: str, driver: ComputeDriver) -> None:
        self.db = db
        self.host = host
        self.driver = driver

    def update_available_resource(self) -> ComputeNode:
        resources = self.driver.get_available_resource()
        return self.db.write(lambda session: self._save(session, resources))

    def _save(self, session: Session, resources: HostResources) -> ComputeNode:
        node = session.scalars(
            select(ComputeNode).where(
                ComputeNode.host == self.host,
                ComputeNode.hypervisor_hostname == resources.hypervisor_hostname,
            )
        ).first()
        if node is None:
            node = ComputeNode(
                host=self.host,
                hypervisor_hostname=resources.hypervisor_hostname,
                cpu_allocation_ratio=CPU_ALLOCATION_RATIO,
                ram_allocation_ratio=RAM_ALLOCATION_RATIO,
                disk_allocation_ratio=DISK_ALLOCATION_RATIO,
            )
            session.add(node)
        node.hypervisor_type = resources.hypervisor_type
        node.hypervisor_version = resources.hypervisor_version
        node.cpu_info = {
            "arch": resources.cpu_arch, "model": resources.cpu_model, "features": resources.cpu_features,
        }  # fmt: skip
        node.vcpus = resources.vcpus
        node.memory_mb = resources.memory_mb
        node.local_gb = resources.local_gb
        running, holds = self._held_here(session, resources.hypervisor_hostname)
        node.running_vms = running
        node.vcpus_used = sum(held.vcpus for held in holds)
        node.memory_mb_used = sum(held.memory_mb for held in holds)
        node.local_gb_used = sum(held.disk_gb for held in holds)
        used = total_held(held.devices for held in holds)
        node.devices = pools_json((asdict(device) for device in resources.devices), used)
        # Claims compare against the generation they read: one that read before this recount must retry.
        node.device_generation = (node.device_generation or 0) + 1
        node.updated_at = utcnow()
        session.flush()
        return node

    def _held_here(self, session: Session, nodename: str) -> tuple[int, list[Resources]]:
        """How many instances the node runs, and everything held on it: what each of them holds, and
        the other side of each resize in flight (the destination until the instance moves there, then
        the source until the resize is confirmed or reverted)."""
        sizes = Instance.vcpus, Instance.memory_mb, Instance.root_gb, Instance.ephemeral_gb, Instance.devices
        rows = session.execute(
            select(*sizes).where(
                Instance.host == self.host, Instance.node == nodename, Instance.deleted.is_(False)
            )
        ).all()
        holds = [Resources.of_flavor(row._mapping, row.devices) for row in rows]
        resizing = session.execute(
            select(Instance.vm_state, InstanceExtra.system_metadata)
            .join(InstanceExtra, InstanceExtra.instance_uuid == Instance.uuid)
            .where(
                Instance.deleted.is_(False),
                or_(Instance.vm_state == states.RESIZED, Instance.task_state.in_(_DESTINATION_RESERVED)),
            )
        )
        for vm_state, meta in resizing:
            moved = vm_state == states.RESIZED
            side, flavor = ("resize_source", "old_flavor") if moved else ("resize_dest", "new_flavor")
            place = meta.get(side) or {}
            if meta.get(flavor) and (place.get("host"), place.get("node")) == (self.host, nodename):
                holds.append(Resources.of_flavor(meta[flavor], place.get("devices")))
        return len(rows), holds
