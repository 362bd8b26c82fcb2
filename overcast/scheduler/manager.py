"""The scheduler service: picks compute nodes for a build.

Deliberately minimal until the filter/weigher scheduler lands: hosts whose compute service is up and
enabled, filtered by free vCPU, RAM and disk (with the allocation ratios), weighed by free RAM. The
choice and its alternates are advisory; the conductor's claim is what reserves the resources.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import select

from overcast.context import RequestContext
from overcast.db.models.compute import ComputeNode
from overcast.db.models.service import ServiceRecord
from overcast.errors import NoValidHost
from overcast.manager import Manager, rpc_method
from overcast.servicegroup import service_is_up

TOPIC = "scheduler"
COMPUTE_BINARY = "overcast-compute"
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


def _free(node: ComputeNode) -> tuple[float, float, float]:
    return (
        node.vcpus * node.cpu_allocation_ratio - node.vcpus_used,
        node.memory_mb * node.ram_allocation_ratio - node.memory_mb_used,
        node.local_gb * node.disk_allocation_ratio - node.local_gb_used,
    )


class SchedulerManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.1"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = "overcast-scheduler"

    @rpc_method
    def select_destinations(
        self,
        ctxt: RequestContext,
        request_spec: dict[str, Any],
        excluded_hosts: list[str] | None = None,
        num_alternates: int = 0,
    ) -> list[dict[str, str]]:
        """[{"host", "nodename"}, ...]: the chosen node first, then up to `num_alternates` others.

        request_spec: {"vcpus", "memory_mb", "disk_gb"}. Raises NoValidHost when nothing fits.
        """
        vcpus = int(request_spec.get("vcpus", 0))
        memory_mb = int(request_spec.get("memory_mb", 0))
        disk_gb = int(request_spec.get("disk_gb", 0))
        excluded = set(excluded_hosts or ())
        candidates: list[tuple[float, ComputeNode]] = []
        for node in self._nodes_of_live_services(excluded):
            free_vcpus, free_ram, free_disk = _free(node)
            if free_vcpus >= vcpus and free_ram >= memory_mb and free_disk >= disk_gb:
                candidates.append((free_ram - memory_mb, node))
        if not candidates:
            raise NoValidHost(NO_VALID_HOST)
        # Most free RAM first (spreading, like Nova's default RAM weigher); host name breaks ties stably.
        candidates.sort(key=lambda pair: (-pair[0], pair[1].host, pair[1].hypervisor_hostname))
        chosen = candidates[: 1 + max(0, int(num_alternates))]
        return [{"host": node.host, "nodename": node.hypervisor_hostname} for _, node in chosen]

    def _nodes_of_live_services(self, excluded: set[str]) -> list[ComputeNode]:
        now = self.cloud.clock()
        down_time = self.cloud.settings.service_down_time
        with self.cloud.db.reader() as session:
            services = session.scalars(
                select(ServiceRecord).where(ServiceRecord.binary == COMPUTE_BINARY)
            ).all()
            live_hosts = {
                service.host
                for service in services
                if not service.disabled and service_is_up(service, now, down_time)
            } - excluded
            if not live_hosts:
                return []
            nodes = list(session.scalars(select(ComputeNode).where(ComputeNode.host.in_(live_hosts))))
            session.expunge_all()
        return nodes
