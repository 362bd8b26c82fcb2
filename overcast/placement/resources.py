"""What an instance asks of a node (`Wanted`) and what it holds there once claimed (`Resources`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from overcast.db.models.compute import Instance
from overcast.placement.devices import DeviceWant, Held, held_from_json


@dataclass(frozen=True)
class Wanted:
    """The resources one instance claims: a claim turns `devices` into the pools it takes (a Held)."""

    vcpus: int
    memory_mb: int
    disk_gb: int
    devices: tuple[DeviceWant, ...] = ()


@dataclass(frozen=True)
class Resources:
    """What an instance holds on its node: the one vector every release gives back.

    A claim produces it (the flavor's sizes and the device pools it took) and records it on the
    instance; `of` reads it back, so a release cannot give back other amounts than the claim took.
    """

    vcpus: int
    memory_mb: int
    disk_gb: int
    devices: Held = ()

    @classmethod
    def of(cls, instance: Instance) -> Resources:
        return cls.of_flavor(instance, instance.devices)

    @classmethod
    def of_flavor(cls, flavor: Any, devices: Iterable[Mapping[str, Any]] | None = ()) -> Resources:
        """From a flavor-shaped object or dict (vcpus, memory_mb, root_gb, ephemeral_gb) and held devices."""

        def size(name: str) -> int:
            return int(flavor[name] if isinstance(flavor, Mapping) else getattr(flavor, name))

        return cls(size("vcpus"), size("memory_mb"), size("root_gb") + size("ephemeral_gb"),
                   held_from_json(devices))  # fmt: skip
