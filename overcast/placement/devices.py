"""Passthrough devices as countable pools: what a flavor asks for, and which pools an instance holds.

A compute node reports its devices grouped by identical model, each group a *pool*
({kind, vendor_id, product_id, model, count, used}). A flavor asks for devices with
`pci_passthrough:alias` ("a100:2, nic" with aliases from settings.scheduler.pci_aliases) and
`resources:VGPU` (N of any GPU). `assign` turns those asks into the pools an instance takes; the filter
and the claim both call it, so a host the filter passes is a host the claim can take, and the instance
records what it took so a release gives back exactly that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from overcast.digits import decimal

ALIAS_KEY = "pci_passthrough:alias"
VGPU_KEY = "resources:VGPU"

# A pool's identity: (kind, vendor_id, product_id, model).
PoolKey = tuple[str, str, str, str]
# What one instance holds on its node: (pool, how many), sorted by pool.
Held = tuple[tuple[PoolKey, int], ...]

_KEY_FIELDS = ("kind", "vendor_id", "product_id", "model")
# Alias attribute -> position in a PoolKey (an alias says device_type where a pool says kind).
_ALIAS_FIELDS = {"device_type": 0, "vendor_id": 1, "product_id": 2, "model": 3}


@dataclass(frozen=True)
class DeviceWant:
    """`count` devices from pools matching every (position, value) of `match`; None: an unknown alias."""

    name: str
    count: int
    match: tuple[tuple[int, str], ...] | None

    def matches(self, key: PoolKey) -> bool:
        if self.match is None:
            return False
        return all(key[position].lower() == value for position, value in self.match)

    def text(self) -> str:
        return f"{self.count} GPU(s)" if self.name == VGPU_KEY else f"{self.count} x {self.name}"


@dataclass(frozen=True)
class Pool:
    key: PoolKey
    count: int
    used: int = 0

    @property
    def free(self) -> int:
        return max(0, self.count - self.used)


def alias_requests(extra_specs: Mapping[str, str]) -> list[tuple[str, int]]:
    """'a100:2, nic' -> [("a100", 2), ("nic", 1)]."""
    requests = []
    for item in extra_specs.get(ALIAS_KEY, "").split(","):
        name, _, count = item.strip().partition(":")
        if name:
            number = decimal(count.strip())
            requests.append((name, 1 if number is None else number))
    return requests


def vgpus_wanted(extra_specs: Mapping[str, str]) -> int:
    value = extra_specs.get(VGPU_KEY, "0").strip()
    number = decimal(value)
    return 0 if number is None else number


def requested(
    extra_specs: Mapping[str, str], aliases: Mapping[str, Mapping[str, str]]
) -> tuple[DeviceWant, ...]:
    """The devices a flavor's extra specs ask for (empty for most flavors)."""
    wants = []
    for name, count in alias_requests(extra_specs):
        alias = aliases.get(name)
        match = None
        if alias is not None:
            match = tuple(sorted((position, str(alias[field]).lower())
                                 for field, position in _ALIAS_FIELDS.items() if field in alias))  # fmt: skip
        wants.append(DeviceWant(name, count, match))
    vgpus = vgpus_wanted(extra_specs)
    if vgpus:
        wants.append(DeviceWant(VGPU_KEY, vgpus, ((0, "gpu"),)))
    return tuple(want for want in wants if want.count > 0)


def pool_key(device: Mapping[str, Any]) -> PoolKey:
    kind, vendor, product, model = (str(device.get(field, "")) for field in _KEY_FIELDS)
    return kind or "pci", vendor, product, model


def pools_of(devices: Iterable[Mapping[str, Any]]) -> list[Pool]:
    """A node's `devices` column as pools (a row written before devices were counted has no `used`)."""
    return [
        Pool(pool_key(device), int(device.get("count", 1)), int(device.get("used", 0))) for device in devices
    ]


def pools_json(devices: Iterable[Mapping[str, Any]], used: Mapping[PoolKey, int]) -> list[dict[str, Any]]:
    """The driver's devices (without `used`) or a node's, with `used` set from `used`."""
    return [{**device, "used": int(used.get(pool_key(device), 0))} for device in devices]


def assign(pools: Iterable[Pool], wants: Iterable[DeviceWant]) -> Held | None:
    """The pools that satisfy every want from their free devices, or None when they cannot.

    Greedy, most constrained want first, each taking from the pools the fewest other wants could use:
    exact for the cases that occur (one alias, VGPUs, or disjoint aliases) and deterministic, which is
    what matters most: the filter and the claim reach the same answer.
    """
    wants = [want for want in wants if want.count > 0]
    if not wants:
        return ()
    free = {pool.key: pool.free for pool in pools}
    candidates = {want: [key for key in free if want.matches(key)] for want in wants}
    demand = {key: sum(key in keys for keys in candidates.values()) for key in free}
    taken: dict[PoolKey, int] = {}
    for want in sorted(wants, key=lambda want: (len(candidates[want]), want.name)):
        missing = want.count
        for key in sorted(candidates[want], key=lambda key: (demand[key], key)):
            take = min(missing, free[key])
            if take:
                free[key] -= take
                taken[key] = taken.get(key, 0) + take
                missing -= take
            if not missing:
                break
        if missing:
            return None
    return tuple(sorted(taken.items()))


def used_after(pools: Iterable[Pool], held: Held, sign: int) -> dict[PoolKey, int]:
    """Each pool's used count once `held` is taken (sign 1) or given back (sign -1); never below zero."""
    used = {pool.key: pool.used for pool in pools}
    for key, count in held:
        if key in used:  # a pool the driver stopped reporting has nothing left to give back
            used[key] = max(0, used[key] + sign * count)
    return used


def total_held(helds: Iterable[Held]) -> dict[PoolKey, int]:
    total: dict[PoolKey, int] = {}
    for held in helds:
        for key, count in held:
            total[key] = total.get(key, 0) + count
    return total


def held_json(held: Held) -> list[dict[str, Any]]:
    return [{**dict(zip(_KEY_FIELDS, key, strict=True)), "count": count} for key, count in held]


def held_from_json(devices: Iterable[Mapping[str, Any]] | None) -> Held:
    return tuple(sorted((pool_key(device), int(device.get("count", 1))) for device in devices or ()))
