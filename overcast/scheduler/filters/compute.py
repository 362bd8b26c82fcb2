"""The host's compute service is enabled and alive; the host is in the requested availability zone."""

from __future__ import annotations

import numpy as np

from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec


class ComputeFilter(BaseFilter):
    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        seen = table.columns["last_seen"][idx]
        with np.errstate(invalid="ignore"):
            alive = np.abs(self.now - seen) <= self.service_down_time  # NaN (never seen) compares False
        mask: Mask = table.columns["enabled"][idx] & alive
        if spec.excluded_hosts:
            mask &= np.isin(idx, table.indices_for_hosts(sorted(spec.excluded_hosts)), invert=True)
        return mask

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        disabled = int(np.count_nonzero(~table.columns["enabled"][rejected]))
        return f"{disabled} disabled, {len(rejected) - disabled} down or excluded"


class AvailabilityZoneFilter(BaseFilter):
    def applies(self, spec: RequestSpec) -> bool:
        return bool(spec.availability_zone)

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        # A host in several zones has the zone "a,b" (a misconfiguration Nova refuses); accept either.
        zone = str(spec.availability_zone)
        return table.per_code("zone", table.zones, idx, lambda zones: zone in str(zones).split(","))

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        return f"not in zone {spec.availability_zone}"
