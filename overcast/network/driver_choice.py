"""Which network driver a host's agent runs: the `network_driver` setting, "auto" resolved here.

"auto" is linuxbridge when this process can really wire VMs (root on Linux, iproute2, nftables and
dnsmasq installed) and the VMs are QEMU's; the fake virt driver's VMs have no taps, so it pairs with
noop, as does a non-root laptop.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable

from overcast.config import Settings
from overcast.network.drivers.base import NetworkDriver, NetworkDriverError
from overcast.network.drivers.noop import NoopDriver
from overcast.virt.driver import resolve_driver_name

DRIVERS = ("linuxbridge", "noop")
LINUXBRIDGE_TOOLS = ("ip", "bridge", "nft", "dnsmasq", "dhcp_release")


def can_wire_vms() -> bool:
    return (
        sys.platform.startswith("linux")
        and os.geteuid() == 0
        and all(shutil.which(tool) for tool in LINUXBRIDGE_TOOLS)
    )


def resolve_network_driver_name(settings: Settings) -> str:
    name = settings.network_driver.lower()
    if name != "auto":
        return name
    qemu = resolve_driver_name(settings.compute_driver) == "qemu"
    return "linuxbridge" if qemu and can_wire_vms() else "noop"


def load_network_driver(settings: Settings, host: str) -> NetworkDriver:
    name = resolve_network_driver_name(settings)
    if name == "noop":
        return NoopDriver()
    if name == "linuxbridge":
        from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver

        return LinuxBridgeDriver(
            local_vtep_ip=settings.network_underlay_ip,
            physical_interfaces=settings.network_physical_interfaces,
            state_dir=settings.data_dir / "network" / host,
        )
    raise NetworkDriverError(f"Unknown network driver {name!r}; known: auto, {', '.join(DRIVERS)}.")


def dhcp_namespace_of(driver: NetworkDriver) -> Callable[[str], str] | None:
    """Where a network's DHCP server (and so its metadata proxy) lives, if the driver has namespaces."""
    from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver

    return driver.dhcp.namespace if isinstance(driver, LinuxBridgeDriver) else None
