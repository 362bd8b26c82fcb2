"""The image's needs: architecture, hypervisor type and version, and its minimum RAM and disk."""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

from overcast.digits import decimal
from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import Capabilities, HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec

_ARCH_ALIASES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64", "i386": "i686"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    ">=": operator.ge, "<=": operator.le, "==": operator.eq, ">": operator.gt, "<": operator.lt,
}  # fmt: skip


def _arch(value: str) -> str:
    return _ARCH_ALIASES.get(value.lower(), value.lower())


def _version(text: str) -> int:
    """'2.11.1' -> Nova's integer form 2011001."""
    parts = [number for part in text.split(".")[:3] if (number := decimal(part)) is not None] + [0, 0, 0]
    return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]


def _version_ok(requirement: str, have: int) -> bool:
    requirement = requirement.strip()
    for symbol in (">=", "<=", "==", ">", "<"):
        if requirement.startswith(symbol):
            return _COMPARE[symbol](have, _version(requirement[len(symbol) :].strip()))
    return have == _version(requirement)


class ImagePropertiesFilter(BaseFilter):
    def _needs(self, spec: RequestSpec) -> tuple[str | None, str | None, str | None]:
        props = spec.image_properties
        arch = props.get("hw_architecture") or props.get("architecture")
        hv_type = props.get("img_hv_type") or props.get("hypervisor_type")
        version = props.get("img_hv_requested_version") or props.get("hypervisor_version_requires")
        return (_arch(str(arch)) if arch else None, str(hv_type).lower() if hv_type else None,
                str(version) if version else None)  # fmt: skip

    def applies(self, spec: RequestSpec) -> bool:
        return any(self._needs(spec)) or spec.image_min_ram > 0 or spec.image_min_disk > 0

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        arch, hv_type, version = self._needs(spec)

        def fits(caps: Capabilities) -> bool:
            return (
                (arch is None or _arch(caps.cpu_arch) == arch)
                and (hv_type is None or caps.hypervisor_type.lower() == hv_type)
                and (version is None or _version_ok(version, caps.hypervisor_version))
            )

        mask = table.per_code("capabilities", table.capability_sets, idx, fits)
        if spec.image_min_ram:
            mask &= table.columns["free_ram"][idx] >= spec.image_min_ram
        if spec.image_min_disk:
            mask &= table.columns["free_disk"][idx] >= spec.image_min_disk
        return mask

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        arch, hv_type, version = self._needs(spec)
        wants = [f"architecture {arch}" if arch else "", f"hypervisor {hv_type}" if hv_type else "",
                 f"hypervisor version {version}" if version else "",
                 f"min_ram {spec.image_min_ram} MB" if spec.image_min_ram else "",
                 f"min_disk {spec.image_min_disk} GB" if spec.image_min_disk else ""]  # fmt: skip
        return "image needs " + ", ".join(want for want in wants if want)
