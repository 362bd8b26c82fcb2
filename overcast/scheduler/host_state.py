"""What the scheduler knows about each compute node, as objects and as numpy columns.

Filters and weighers read the columns (one vector operation over ten thousand hosts instead of ten
thousand Python calls); a filter that needs a host's description (CPU features, devices, aggregates)
evaluates it once per distinct *signature* — hosts built alike share one — and maps the answer back.
Every change goes through `HostStateTable` so the objects and the columns never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.placement.devices import Held, Pool, PoolKey, used_after
from overcast.placement.resources import Wanted
from overcast.zones import ZONE_KEY

Mask = npt.NDArray[np.bool_]
Indices = npt.NDArray[np.intp]
T = TypeVar("T")


@dataclass(frozen=True)
class DeviceInfo:
    kind: str  # "gpu" or "pci"
    vendor_id: str
    product_id: str
    model: str
    count: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeviceInfo:
        return cls(
            kind=str(data.get("kind", "pci")),
            vendor_id=str(data.get("vendor_id", "")),
            product_id=str(data.get("product_id", "")),
            model=str(data.get("model", "")),
            count=int(data.get("count", 1)),
        )

    @property
    def key(self) -> PoolKey:
        return self.kind, self.vendor_id, self.product_id, self.model


@dataclass(frozen=True)
class AggregateInfo:
    name: str
    metadata: tuple[tuple[str, str], ...] = ()

    @property
    def availability_zone(self) -> str | None:
        return dict(self.metadata).get(ZONE_KEY)


@dataclass(frozen=True)
class Capabilities:
    """What a host *is* (not what it has free): shared by every host built the same way."""

    cpu_arch: str = "x86_64"
    cpu_model: str = ""
    cpu_features: frozenset[str] = frozenset()
    hypervisor_type: str = "fake"
    hypervisor_version: int = 0
    devices: tuple[DeviceInfo, ...] = ()

    def device_count(self, kind: str | None = None) -> int:
        return sum(device.count for device in self.devices if kind is None or device.kind == kind)


@dataclass(eq=False)
class HostState:
    host: str
    nodename: str
    capabilities: Capabilities = field(default_factory=Capabilities)
    vcpus: int = 0
    memory_mb: int = 0
    local_gb: int = 0
    vcpus_used: int = 0
    memory_mb_used: int = 0
    local_gb_used: int = 0
    running_vms: int = 0
    cpu_allocation_ratio: float = 16.0
    ram_allocation_ratio: float = 1.5
    disk_allocation_ratio: float = 1.0
    io_ops: int = 0
    failed_builds: int = 0
    disabled: bool = False
    # Heartbeat of the host's compute service in epoch seconds; None (no service row) counts as down.
    last_seen_up: float | None = None
    aggregates: tuple[AggregateInfo, ...] = ()
    # Claimed devices of each of capabilities.devices, in the same order.
    devices_used: tuple[int, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return self.host, self.nodename

    def device_pools(self) -> list[Pool]:
        used = self.devices_used
        return [Pool(device.key, device.count, used[i] if i < len(used) else 0)
                for i, device in enumerate(self.capabilities.devices)]  # fmt: skip

    def take_devices(self, held: Held, sign: int) -> None:
        if held:
            used = used_after(self.device_pools(), held, sign)
            self.devices_used = tuple(used[device.key] for device in self.capabilities.devices)

    @property
    def free_vcpus(self) -> float:
        return self.vcpus * self.cpu_allocation_ratio - self.vcpus_used

    @property
    def free_ram_mb(self) -> float:
        return self.memory_mb * self.ram_allocation_ratio - self.memory_mb_used

    @property
    def free_disk_gb(self) -> float:
        return self.local_gb * self.disk_allocation_ratio - self.local_gb_used

    @property
    def availability_zone(self) -> str:
        return zone_of(self.aggregates)


def zone_of(aggregates: Sequence[AggregateInfo]) -> str:
    zones = sorted({zone for zone in (agg.availability_zone for agg in aggregates) if zone})
    return ",".join(zones) if zones else DEFAULT_AVAILABILITY_ZONE


class _Codes:
    """Small integers for repeated values (zones, aggregate sets, capabilities), so columns hold ints."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._codes: dict[Any, int] = {}

    def code(self, value: Any) -> int:
        found = self._codes.get(value)
        if found is None:
            found = self._codes[value] = len(self.values)
            self.values.append(value)
        return found

    def get(self, value: Any) -> int | None:
        return self._codes.get(value)


_FLOAT_COLUMNS = ("free_ram", "free_vcpus", "free_disk", "io_ops", "running_vms", "failed_builds",
                  "last_seen", "vcpus_used", "memory_mb", "device_count", "devices_used")  # fmt: skip
_INT_COLUMNS = ("zone", "aggregates", "capabilities")


class HostStateTable:
    """All hosts, indexed 0..n-1 in the same order in `hosts` and in every column."""

    def __init__(self, ratio_overrides: tuple[float | None, float | None, float | None] = (None, None, None)):
        self.ratio_overrides = ratio_overrides
        self.hosts: list[HostState] = []
        self.index_of: dict[tuple[str, str], int] = {}
        self.indices_of_host: dict[str, list[int]] = {}
        self.zones = _Codes()
        self.aggregate_sets = _Codes()
        self.capability_sets = _Codes()
        self._capacity = 0
        self.columns: dict[str, npt.NDArray[Any]] = {}
        self._grow(1024)

    def __len__(self) -> int:
        return len(self.hosts)

    def _grow(self, capacity: int) -> None:
        for name in _FLOAT_COLUMNS + _INT_COLUMNS + ("present", "enabled"):
            dtype: Any = (
                np.float64 if name in _FLOAT_COLUMNS else np.int32 if name in _INT_COLUMNS else np.bool_
            )
            column = np.zeros(capacity, dtype=dtype)
            if name in self.columns:
                column[: self._capacity] = self.columns[name][: self._capacity]
            self.columns[name] = column
        self._capacity = capacity

    def column(self, name: str) -> npt.NDArray[Any]:
        """The live part of a column (a view: no copy)."""
        return self.columns[name][: len(self.hosts)]

    # --- changes ----------------------------------------------------------------------------------
    def upsert(self, state: HostState) -> int:
        cpu, ram, disk = self.ratio_overrides
        state.cpu_allocation_ratio = cpu if cpu is not None else state.cpu_allocation_ratio
        state.ram_allocation_ratio = ram if ram is not None else state.ram_allocation_ratio
        state.disk_allocation_ratio = disk if disk is not None else state.disk_allocation_ratio
        index = self.index_of.get(state.key)
        if index is None:
            index = len(self.hosts)
            if index >= self._capacity:
                self._grow(self._capacity * 2)
            self.hosts.append(state)
            self.index_of[state.key] = index
            self.indices_of_host.setdefault(state.host, []).append(index)
        else:
            self.hosts[index] = state
        self.sync(index)
        return index

    def remove(self, key: tuple[str, str]) -> None:
        """Tombstone (indices stay stable); the next full reload compacts."""
        index = self.index_of.get(key)
        if index is not None:
            self.columns["present"][index] = False

    def sync(self, index: int) -> None:
        """Copy hosts[index] into the columns (after any change to the object)."""
        state, cols = self.hosts[index], self.columns
        cols["free_ram"][index] = state.free_ram_mb
        cols["free_vcpus"][index] = state.free_vcpus
        cols["free_disk"][index] = state.free_disk_gb
        cols["io_ops"][index] = state.io_ops
        cols["running_vms"][index] = state.running_vms
        cols["failed_builds"][index] = state.failed_builds
        cols["last_seen"][index] = np.nan if state.last_seen_up is None else state.last_seen_up
        cols["vcpus_used"][index] = state.vcpus_used
        cols["memory_mb"][index] = state.memory_mb
        cols["device_count"][index] = state.capabilities.device_count()
        cols["devices_used"][index] = sum(state.devices_used)
        cols["zone"][index] = self.zones.code(state.availability_zone)
        cols["aggregates"][index] = self.aggregate_sets.code(state.aggregates)
        cols["capabilities"][index] = self.capability_sets.code(state.capabilities)
        cols["present"][index] = True
        cols["enabled"][index] = not state.disabled

    def consume(self, index: int, wanted: Wanted, devices: Held = ()) -> None:
        """`devices`: the pools the claim took (the claim decides which; `wanted` only says how many)."""
        state = self.hosts[index]
        state.take_devices(devices, 1)
        state.vcpus_used += wanted.vcpus
        state.memory_mb_used += wanted.memory_mb
        state.local_gb_used += wanted.disk_gb
        state.running_vms += 1
        state.io_ops += 1
        self.sync(index)

    def release(self, index: int, wanted: Wanted, devices: Held = ()) -> None:
        state = self.hosts[index]
        state.take_devices(devices, -1)
        state.vcpus_used -= wanted.vcpus
        state.memory_mb_used -= wanted.memory_mb
        state.local_gb_used -= wanted.disk_gb
        state.running_vms = max(0, state.running_vms - 1)
        state.io_ops = max(0, state.io_ops - 1)
        self.sync(index)

    # --- reading ----------------------------------------------------------------------------------
    def all_indices(self) -> Indices:
        return np.flatnonzero(self.column("present"))

    def indices_for_hosts(self, hosts: Sequence[str]) -> Indices:
        found = [index for host in hosts for index in self.indices_of_host.get(host, ())]
        return np.asarray(found, dtype=np.intp)

    def per_code(self, column: str, codes: _Codes, idx: Indices, predicate: Callable[[Any], bool]) -> Mask:
        """predicate(value) for the value behind each host's code, evaluated once per distinct code."""
        host_codes = self.columns[column][idx]
        if len(codes.values) <= len(idx):  # the usual case: few kinds of host, so ask about every kind
            lookup = np.fromiter((predicate(value) for value in codes.values), np.bool_, len(codes.values))
        else:
            lookup = np.zeros(len(codes.values), dtype=np.bool_)
            for code in np.unique(host_codes):
                lookup[code] = predicate(codes.values[code])
        mask: Mask = lookup[host_codes]
        return mask

    def per_host(self, idx: Indices, predicate: Callable[[HostState], bool]) -> Mask:
        hosts = self.hosts
        return np.fromiter((predicate(hosts[i]) for i in idx), dtype=np.bool_, count=len(idx))
