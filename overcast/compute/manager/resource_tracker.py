"""The compute host's report of its node: capacity from the driver, usage recounted from its instances.

The compute service reports periodically (`ResourceTracker.update_available_resource`), and the recount
repairs any drift. Between reports only `overcast.placement` changes the usage counters (claims and
releases, by compare-and-swap).
"""

from __future__ import annotations

from dataclasses import asdict

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import ComputeNode, Instance
from overcast.db.models.instance_actions import InstanceExtra
from overcast.placement.devices import pools_json, total_held
from overcast.placement.resources import Resources
from overcast.virt.driver import ComputeDriver, HostResources

# Nova's initial allocation ratios: vCPUs are overcommitted 16:1, memory 1.5:1, disk not at all.
CPU_ALLOCATION_RATIO = 16.0
RAM_ALLOCATION_RATIO = 1.5
DISK_ALLOCATION_RATIO = 1.0
# A resize's destination is reserved (by the conductor) while its instance is in these tasks.
_DESTINATION_RESERVED = (states.RESIZE_MIGRATING, states.RESIZE_MIGRATED, states.RESIZE_FINISH)


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
