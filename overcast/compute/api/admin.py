"""The logic behind the compute admin APIs (aggregates, hosts, usage, quota views, flavor access)."""

from __future__ import annotations

import functools

from overcast.cloud import Cloud
from overcast.compute.api.aggregates import AggregateAPI
from overcast.compute.api.flavor_access import FlavorAccessAPI
from overcast.compute.api.hosts import HostAPI, HypervisorUptimes
from overcast.compute.api.image_precache import ImagePrecache
from overcast.compute.api.quota_views import QuotaViewAPI
from overcast.compute.api.usage import UsageAPI
from overcast.compute.rpcapi import ComputeAPI
from overcast.quota import QuotaEngine
from overcast.scheduler.explain import SchedulerDryRun
from overcast.scheduler.rpcapi import notify_host_states_changed


class AdminServices:
    """Built once per app by api/assembly.py, on the quota engine its ComputeService counts with."""

    def __init__(self, cloud: Cloud, quotas: QuotaEngine) -> None:
        notify_schedulers = functools.partial(notify_host_states_changed, cloud.transport)
        self.aggregates = AggregateAPI(cloud.db, notify_schedulers)
        self.hosts = HostAPI(cloud.db, cloud.clock, cloud.settings.service_down_time, notify_schedulers)
        compute_rpc = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.uptimes = HypervisorUptimes(compute_rpc)
        self.image_precache = ImagePrecache(cloud.db, self.aggregates, compute_rpc)
        self.usage = UsageAPI(cloud.db, cloud.clock)
        self.quotas = QuotaViewAPI(cloud.db, quotas)
        self.flavor_access = FlavorAccessAPI(cloud.db)
        self.scheduler = SchedulerDryRun(cloud)
