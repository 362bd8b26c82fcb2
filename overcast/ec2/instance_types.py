"""DescribeInstanceTypes: the flavors as instance types (an instance type is a flavor's name)."""

from __future__ import annotations

from typing import Any

from overcast.compute.api.flavors import FlavorFilters
from overcast.db.models.compute import Flavor
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import invalid_value
from overcast.ec2.filtering import FilterTable
from overcast.ec2.pagination import PageRules, page
from overcast.ec2.params import filters_of


def flavor_id_of(backends: Backends, request: Ec2Request, name: str) -> str:
    """The id of the flavor an InstanceType names."""
    for flavor in backends.compute.flavors.list(request.context, FlavorFilters(is_public=None)):
        if flavor.name == name:
            return flavor.flavorid
    raise invalid_value("InstanceType", name, "The instance type does not exist.")


def _instance_type(flavor: Flavor) -> dict[str, Any]:
    return {
        "instanceType": flavor.name, "currentGeneration": True, "freeTierEligible": False,
        "supportedUsageClasses": ["on-demand"], "supportedRootDeviceTypes": ["ebs", "instance-store"],
        "supportedVirtualizationTypes": ["hvm"], "bareMetal": False, "hypervisor": "xen",
        "processorInfo": {"supportedArchitectures": ["x86_64"]},
        "vCpuInfo": {"defaultVCpus": flavor.vcpus, "defaultCores": flavor.vcpus, "defaultThreadsPerCore": 1},
        "memoryInfo": {"sizeInMiB": flavor.memory_mb},
        "instanceStorageSupported": flavor.root_gb + flavor.ephemeral_gb > 0,
        "instanceStorageInfo": {"totalSizeInGB": flavor.root_gb + flavor.ephemeral_gb,
                                "disks": [{"sizeInGB": flavor.root_gb, "count": 1, "type": "ssd"}]}
        if flavor.root_gb else None,
        "hibernationSupported": False, "burstablePerformanceSupported": False,
        "dedicatedHostsSupported": False, "autoRecoverySupported": False,
        "supportedBootModes": ["legacy-bios"], "supportedInRegion": True,
    }  # fmt: skip


TYPE_FILTERS: FilterTable[dict[str, Any]] = FilterTable({
    "instance-type": lambda t: t["instanceType"],
    "vcpu-info.default-vcpus": lambda t: t["vCpuInfo"]["defaultVCpus"],
    "memory-info.size-in-mib": lambda t: t["memoryInfo"]["sizeInMiB"],
    "current-generation": lambda t: t["currentGeneration"],
    "instance-storage-supported": lambda t: t["instanceStorageSupported"],
    "processor-info.supported-architecture": lambda t: t["processorInfo"]["supportedArchitectures"],
    "supported-root-device-type": lambda t: t["supportedRootDeviceTypes"],
    "supported-virtualization-type": lambda t: t["supportedVirtualizationTypes"],
    "bare-metal": lambda t: t["bareMetal"],
    "hypervisor": lambda t: t["hypervisor"],
})  # fmt: skip


def describe_instance_types(backends: Backends, request: Ec2Request) -> Response:
    flavors = backends.compute.flavors.list(request.context, FlavorFilters(is_public=None))
    types = [_instance_type(flavor) for flavor in flavors]
    wanted = request.params.strings("InstanceType")
    if wanted:
        known = {t["instanceType"] for t in types}
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise invalid_value("InstanceType", unknown[0], "The instance type does not exist.")
        types = [t for t in types if t["instanceType"] in wanted]
    selected = TYPE_FILTERS.apply(types, filters_of(request.params))
    shown, next_token = page(selected, request.params, key=backends.token_key, scope="DescribeInstanceTypes",
                             rules=PageRules(5, 100))  # fmt: skip
    return {"instanceTypeSet": list(shown), "nextToken": next_token}
