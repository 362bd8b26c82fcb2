"""What each hypervisor has and what is claimed on it: the compute_nodes table.

The compute service reports capacity periodically (`ResourceTracker.update_available_resource`) and
recounts usage from the instances assigned to the node, which repairs any drift. Between reports,
claims and releases change the usage counters with compare-and-swap updates, so two builds racing for
the last free memory on a node cannot both win.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from sqlalchemy import ColumnElement, case, func, select, update
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.compute import ComputeNode, Instance
from overcast.virt.driver import ComputeDriver, HostResources

LOG = logging.getLogger(__name__)

# Nova's initial allocation ratios: vCPUs are overcommitted 16:1, memory 1.5:1, disk not at all.
CPU_ALLOCATION_RATIO = 16.0
RAM_ALLOCATION_RATIO = 1.5
DISK_ALLOCATION_RATIO = 1.0


@dataclass(frozen=True)
class Resources:
    vcpus: int
    memory_mb: int
    disk_gb: int

    @classmethod
    def of(cls, instance: Instance) -> Resources:
        return cls(instance.vcpus, instance.memory_mb, instance.root_gb + instance.ephemeral_gb)


def claim(session: Session, instance_uuid: str, host: str, node: str, wanted: Resources) -> bool:
    """Reserve `wanted` on (host, node) for a SCHEDULING instance not placed yet; False if it does not fit.

    One transaction: the node's counters grow only if they stay within capacity times the allocation
    ratio, and the instance is assigned to the node only if nobody else placed or deleted it meanwhile.
    """
    fits = (
        update(ComputeNode)
        .where(
            ComputeNode.host == host,
            ComputeNode.hypervisor_hostname == node,
            ComputeNode.vcpus_used + wanted.vcpus <= ComputeNode.vcpus * ComputeNode.cpu_allocation_ratio,
            ComputeNode.memory_mb_used + wanted.memory_mb
            <= ComputeNode.memory_mb * ComputeNode.ram_allocation_ratio,
            ComputeNode.local_gb_used + wanted.disk_gb
            <= ComputeNode.local_gb * ComputeNode.disk_allocation_ratio,
        )
        .values(
            vcpus_used=ComputeNode.vcpus_used + wanted.vcpus,
            memory_mb_used=ComputeNode.memory_mb_used + wanted.memory_mb,
            local_gb_used=ComputeNode.local_gb_used + wanted.disk_gb,
            running_vms=ComputeNode.running_vms + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if getattr(session.execute(fits), "rowcount", 0) != 1:
        return False
    placed = (
        update(Instance)
        .where(
            Instance.uuid == instance_uuid,
            Instance.deleted.is_(False),
            Instance.host.is_(None),
            Instance.task_state == states.SCHEDULING,
        )
        .values(host=host, node=node, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if getattr(session.execute(placed), "rowcount", 0) != 1:
        release(session, host, node, wanted)
        return False
    return True


def release(session: Session, host: str, node: str | None, freed: Resources) -> None:
    """Give back what a claim took (the instance left the node: deleted, or its build failed)."""
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
        node.devices = [asdict(device) for device in resources.devices]
        node.vcpus = resources.vcpus
        node.memory_mb = resources.memory_mb
        node.local_gb = resources.local_gb
        usage = session.execute(
            select(
                func.count(Instance.id),
                func.coalesce(func.sum(Instance.vcpus), 0),
                func.coalesce(func.sum(Instance.memory_mb), 0),
                func.coalesce(func.sum(Instance.root_gb + Instance.ephemeral_gb), 0),
            ).where(
                Instance.host == self.host,
                Instance.node == resources.hypervisor_hostname,
                Instance.deleted.is_(False),
            )
        ).one()
        node.running_vms, node.vcpus_used, node.memory_mb_used, node.local_gb_used = (
            int(usage[0]), int(usage[1]), int(usage[2]), int(usage[3]),
        )  # fmt: skip
        node.updated_at = utcnow()
        session.flush()
        return node
