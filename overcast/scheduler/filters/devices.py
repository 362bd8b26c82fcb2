"""Passthrough devices asked for by flavor extra specs: pci_passthrough:alias and resources:VGPU."""

from __future__ import annotations

from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import Capabilities, DeviceInfo, HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec

ALIAS_KEY = "pci_passthrough:alias"
VGPU_KEY = "resources:VGPU"


def alias_requests(extra_specs: dict[str, str]) -> list[tuple[str, int]]:
    """'a100:2, nic' -> [("a100", 2), ("nic", 1)]."""
    requests = []
    for item in extra_specs.get(ALIAS_KEY, "").split(","):
        name, _, count = item.strip().partition(":")
        if name:
            requests.append((name, int(count) if count.strip().isdigit() else 1))
    return requests


def vgpus_wanted(extra_specs: dict[str, str]) -> int:
    value = extra_specs.get(VGPU_KEY, "0").strip()
    return int(value) if value.isdigit() else 0


def _matches(device: DeviceInfo, alias: dict[str, str]) -> bool:
    return all(
        str(getattr(device, field, "")).lower() == str(alias[wanted]).lower()
        for field, wanted in (("vendor_id", "vendor_id"), ("product_id", "product_id"), ("model", "model"),
                              ("kind", "device_type"))
        if wanted in alias
    )  # fmt: skip


class PciPassthroughFilter(BaseFilter):
    def applies(self, spec: RequestSpec) -> bool:
        extra = spec.flavor_extra_specs
        return ALIAS_KEY in extra or VGPU_KEY in extra

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        aliases = self.settings.pci_aliases
        requests = alias_requests(spec.flavor_extra_specs)
        vgpus = vgpus_wanted(spec.flavor_extra_specs)

        def has_devices(caps: Capabilities) -> bool:
            if caps.device_count("gpu") < vgpus:
                return False
            for name, count in requests:
                alias = aliases.get(name)
                if alias is None or sum(d.count for d in caps.devices if _matches(d, alias)) < count:
                    return False
            return True

        return table.per_code("capabilities", table.capability_sets, idx, has_devices)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        wants = [f"{count} x {name}" for name, count in alias_requests(spec.flavor_extra_specs)]
        unknown = [name for name, _ in alias_requests(spec.flavor_extra_specs)
                   if name not in self.settings.pci_aliases]  # fmt: skip
        if vgpus_wanted(spec.flavor_extra_specs):
            wants.append(f"{vgpus_wanted(spec.flavor_extra_specs)} GPU(s)")
        text = "need " + ", ".join(wants)
        return text + (f"; unknown alias {', '.join(unknown)}" if unknown else "")
