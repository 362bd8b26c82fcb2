"""Free RAM, vCPUs and disk (capacity times allocation ratio, minus what is claimed)."""

from __future__ import annotations

import numpy as np

from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec


class _FreeResourceFilter(BaseFilter):
    column = ""
    unit = ""

    def wanted(self, spec: RequestSpec) -> float:
        raise NotImplementedError

    def applies(self, spec: RequestSpec) -> bool:
        return self.wanted(spec) > 0

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        mask: Mask = table.columns[self.column][idx] >= self.wanted(spec)
        return mask

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        best = float(np.max(table.columns[self.column][rejected])) if len(rejected) else 0.0
        return f"need {self.wanted(spec):g} {self.unit}, best {max(best, 0.0):g} {self.unit} free"


class RamFilter(_FreeResourceFilter):
    column, unit = "free_ram", "MB"

    def wanted(self, spec: RequestSpec) -> float:
        return spec.wanted.memory_mb


class CoreFilter(_FreeResourceFilter):
    column, unit = "free_vcpus", "vCPUs"

    def wanted(self, spec: RequestSpec) -> float:
        return spec.wanted.vcpus


class DiskFilter(_FreeResourceFilter):
    column, unit = "free_disk", "GB"

    def wanted(self, spec: RequestSpec) -> float:
        return spec.wanted.disk_gb
