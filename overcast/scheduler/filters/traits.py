"""Required and forbidden traits (`trait:HW_CPU_X86_AVX2=required`) against the host's CPU and devices."""

from __future__ import annotations

from functools import lru_cache

from overcast.scheduler.filters.base import BaseFilter
from overcast.scheduler.host_state import Capabilities, HostStateTable, Indices, Mask
from overcast.scheduler.request_spec import RequestSpec

TRAIT_PREFIX = "trait:"
# /proc/cpuinfo flag -> os-traits name where the two differ.
_FEATURE_TRAITS = {"sse4_1": "SSE41", "sse4_2": "SSE42", "aes": "AESNI", "pclmulqdq": "PCLMULQDQ"}
_ARCH_TRAITS = {"x86_64": "X86_64", "aarch64": "AARCH64", "ppc64le": "PPC64LE", "s390x": "S390X",
                "i686": "I686", "riscv64": "RISCV64"}  # fmt: skip


@lru_cache(maxsize=4096)
def host_traits(caps: Capabilities) -> frozenset[str]:
    traits = {f"HW_ARCH_{_ARCH_TRAITS.get(caps.cpu_arch, caps.cpu_arch.upper())}"}
    family = "X86" if caps.cpu_arch in ("x86_64", "i686") else caps.cpu_arch.upper()
    for feature in caps.cpu_features:
        traits.add(f"HW_CPU_{family}_{_FEATURE_TRAITS.get(feature, feature.upper())}")
    if caps.device_count("gpu"):
        traits.add("HW_GPU")
    return frozenset(traits)


def trait_requests(spec: RequestSpec) -> tuple[frozenset[str], frozenset[str]]:
    """(required, forbidden) from the flavor's extra specs and the image's properties."""
    required, forbidden = set(), set()
    for source in (spec.flavor_extra_specs, spec.image_properties):
        for key, value in source.items():
            if key.startswith(TRAIT_PREFIX):
                name = key[len(TRAIT_PREFIX) :]
                if str(value).lower() == "required":
                    required.add(name)
                elif str(value).lower() == "forbidden":
                    forbidden.add(name)
    return frozenset(required), frozenset(forbidden)


class CpuTraitsFilter(BaseFilter):
    def applies(self, spec: RequestSpec) -> bool:
        required, forbidden = trait_requests(spec)
        return bool(required or forbidden)

    def passes(self, table: HostStateTable, idx: Indices, spec: RequestSpec) -> Mask:
        required, forbidden = trait_requests(spec)

        def fits(caps: Capabilities) -> bool:
            traits = host_traits(caps)
            return required <= traits and not forbidden & traits

        return table.per_code("capabilities", table.capability_sets, idx, fits)

    def detail(self, table: HostStateTable, rejected: Indices, spec: RequestSpec) -> str:
        required, forbidden = trait_requests(spec)
        parts = [f"required {', '.join(sorted(required))}" if required else "",
                 f"forbidden {', '.join(sorted(forbidden))}" if forbidden else ""]  # fmt: skip
        return "; ".join(part for part in parts if part)
