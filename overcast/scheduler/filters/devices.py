"""Passthrough devices asked for by flavor extra specs: pci_passthrough:alias and resources:VGPU.

A host passes when its *free* devices (reported count minus what claims took) satisfy the request, by
the same `assign` the claim runs.
"""

from __future__ import annotations

import numpy as np

from overcast.placement.devices import ALIAS_KEY, VGPU_KEY, DeviceWant, Pool, assign, requested
from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import Capabilities, HostState, HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec


class PciPassthroughFilter(BaseFilter):
    def wants(self, spec: RequestSpec) -> tuple[DeviceWant, ...]:
        return spec.wanted.devices or requested(spec.flavor_extra_specs, self.settings.pci_aliases)

    def applies(self, spec: RequestSpec) -> bool:
        extra = spec.flavor_extra_specs
        return bool(spec.wanted.devices) or ALIAS_KEY in extra or VGPU_KEY in extra

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        wants = self.wants(spec)
        if any(want.match is None for want in wants):
            return np.zeros(len(idx), dtype=np.bool_)

        def when_idle(caps: Capabilities) -> bool:
            return assign([Pool(d.key, d.count) for d in caps.devices], wants) is not None

        def now(state: HostState) -> bool:
            return assign(state.device_pools(), wants) is not None

        # Hosts alike share the answer while nothing of theirs is claimed; the others are asked one by one.
        mask = table.per_code("capabilities", table.capability_sets, idx, when_idle)
        busy = mask & (table.columns["devices_used"][idx] > 0)
        if busy.any():
            mask[busy] = table.per_host(idx[busy], now)
        return mask

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        wants = self.wants(spec)
        text = "need " + ", ".join(want.text() for want in wants)
        unknown = [want.name for want in wants if want.match is None]
        if unknown:
            return f"{text}; unknown alias {', '.join(unknown)}"
        if len(rejected):
            matching = [
                sum(
                    pool.free
                    for pool in table.hosts[i].device_pools()
                    if any(w.matches(pool.key) for w in wants)
                )
                for i in rejected
            ]
            text += f", best {max(matching)} free"
        return text
