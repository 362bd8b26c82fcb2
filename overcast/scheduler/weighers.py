"""Weighers: each scores the hosts that passed, normalised to 0..1 over them, times its multiplier.

The host with the highest total wins. `strategy = "pack"` flips the RAM, vCPU and disk weighers so the
fullest hosts win instead of the emptiest.
"""

from __future__ import annotations

from collections import Counter
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from overcast.config import SchedulerSettings
from overcast.scheduler.host_state import HostStateTable, Indices
from overcast.scheduler.request_spec import RequestSpec

Weights = npt.NDArray[np.float64]
WEIGHERS: dict[str, type[BaseWeigher]] = {}


def normalise(values: Weights) -> Weights:
    low, high = float(values.min()), float(values.max())
    if high == low:
        return np.zeros_like(values)
    return (values - low) / (high - low)


class BaseWeigher:
    name: ClassVar[str] = ""
    setting: ClassVar[str] = ""
    # Resource weighers change sign with the spread/pack strategy.
    follows_strategy: ClassVar[bool] = False

    def __init__(self, settings: SchedulerSettings) -> None:
        self.settings = settings

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.name = cls.__name__
        if not cls.name.startswith("_"):  # shared bases are not selectable
            WEIGHERS[cls.name] = cls

    @property
    def multiplier(self) -> float:
        value = float(getattr(self.settings, self.setting))
        return -value if self.follows_strategy and self.settings.strategy == "pack" else value

    def applies(self, spec: RequestSpec) -> bool:
        return self.multiplier != 0.0

    def raw(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Weights:
        raise NotImplementedError


class _ColumnWeigher(BaseWeigher):
    column: ClassVar[str] = ""

    def raw(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Weights:
        values: Weights = table.columns[self.column][idx]
        return values


class RAMWeigher(_ColumnWeigher):
    setting, column, follows_strategy = "ram_weight_multiplier", "free_ram", True


class CPUWeigher(_ColumnWeigher):
    setting, column, follows_strategy = "cpu_weight_multiplier", "free_vcpus", True


class DiskWeigher(_ColumnWeigher):
    setting, column, follows_strategy = "disk_weight_multiplier", "free_disk", True


class IoOpsWeigher(_ColumnWeigher):
    """Builds and other disk-heavy tasks in flight; the default multiplier (-1) avoids busy hosts."""

    setting, column = "io_ops_weight_multiplier", "io_ops"


class NumInstancesWeigher(_ColumnWeigher):
    setting, column = "num_instances_weight_multiplier", "running_vms"


class BuildFailureWeigher(BaseWeigher):
    """Hosts whose builds failed recently sink (Nova's huge default multiplier outweighs the rest)."""

    setting = "build_failure_weight_multiplier"

    def raw(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Weights:
        return -table.columns["failed_builds"][idx]


class _GroupWeigher(BaseWeigher):
    policy: ClassVar[str] = ""
    sign: ClassVar[float] = 1.0

    def applies(self, spec: RequestSpec) -> bool:
        return spec.group_policy == self.policy and self.multiplier != 0.0

    def raw(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Weights:
        members = np.zeros(len(table), dtype=np.float64)
        for host, count in Counter(spec.group_hosts).items():
            members[table.indices_for_hosts([host])] = count
        return self.sign * members[idx]


class ServerGroupSoftAffinityWeigher(_GroupWeigher):
    setting, policy, sign = "soft_affinity_weight_multiplier", "soft-affinity", 1.0


class ServerGroupSoftAntiAffinityWeigher(_GroupWeigher):
    setting, policy, sign = "soft_anti_affinity_weight_multiplier", "soft-anti-affinity", -1.0
