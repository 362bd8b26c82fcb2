"""The scheduler service: picks compute nodes for builds and claims them (see overcast.scheduler.core).

Several scheduler processes may run at once: each keeps its own host cache, and the claim in the
database decides races between them.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from overcast.cloud import Cloud
from overcast.context import RequestContext
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.scheduler.core import Scheduler
from overcast.scheduler.request_spec import RequestSpec
from overcast.scheduler.rpcapi import BINARY, TOPIC
from overcast.scheduler.selector import no_valid_host

# How often the periodic task looks; settings.scheduler.host_state_refresh_interval decides when to reload.
REFRESH_CHECK_INTERVAL = 1.0


class SchedulerManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.3"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(self, cloud: Cloud, host: str, *, rng: random.Random | None = None) -> None:
        super().__init__(cloud, host)
        self.scheduler = Scheduler(cloud.db, cloud.settings, cloud.clock, rng)

    @rpc_method
    def select_destinations(
        self,
        ctxt: RequestContext,
        request_spec: dict[str, Any],
        excluded_hosts: list[str] | None = None,
        num_alternates: int = 0,
    ) -> list[dict[str, str]]:
        """A dry run: [{"host", "nodename"}, ...], the choice then up to `num_alternates` others.

        request_spec: RequestSpec.to_dict() (or the flat {"vcpus", "memory_mb", "disk_gb"}). Claims
        nothing; raises NoValidHost, explained, when nothing fits.
        """
        spec = RequestSpec.from_dict(request_spec)
        if excluded_hosts:
            spec = RequestSpec.from_dict({**spec.to_dict(), "excluded_hosts": excluded_hosts})
        selection = self.scheduler.select(spec, num_alternates)
        if not selection.indices:
            raise no_valid_host(selection)
        hosts = self.scheduler.cache.table.hosts
        return [{"host": hosts[i].host, "nodename": hosts[i].nodename} for i in selection.indices]

    @rpc_method
    def schedule_and_claim(
        self,
        ctxt: RequestContext,
        instance_uuids: list[str],
        excluded_hosts: list[str] | None = None,
        num_alternates: int = 0,
    ) -> list[dict[str, Any]]:
        """Choose and claim hosts for all the instances of one request, or none (NoValidHost).

        Returns [{"instance_uuid", "host", "nodename", "alternates": [{"host", "nodename"}, ...]}];
        instances deleted meanwhile are left out.
        """
        if excluded_hosts:
            self.scheduler.cache.note_build_failures(excluded_hosts)
        placements = self.scheduler.place(list(instance_uuids), excluded_hosts, num_alternates)
        return [placement.to_dict() for placement in placements]

    @rpc_method
    def host_states_changed(self, ctxt: RequestContext) -> None:
        """A fanout notice: an operator changed services or aggregates, or a compute host started."""
        self.scheduler.cache.mark_stale()

    @periodic_task(REFRESH_CHECK_INTERVAL)
    def refresh_host_states(self) -> None:
        self.scheduler.cache.ensure_fresh()
