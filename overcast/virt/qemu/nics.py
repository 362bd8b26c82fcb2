"""Hot-plugging a VM's NICs over QMP: a tap back end (`netdev_add`) and a virtio NIC with the port's MAC
(`device_add`) on one of the VM's empty PCIe root ports, and their removal.

A plugged NIC joins the VM's spec, so the next start of QEMU has it from boot (on a root port of its
own, see launch.py); a stopped VM only has its spec changed.
"""

from __future__ import annotations

from typing import Any

from overcast.virt.driver import DriverError
from overcast.virt.qemu import launch
from overcast.virt.qemu.instance import VM
from overcast.virt.qemu.runtime import Runtime

# How long the guest has to let go of an unplugged NIC (PCIe hot-unplug waits for it).
UNPLUG_TIMEOUT = 30.0


def _free_hotplug_port(vm: VM) -> str:
    taken = {vif.get("bus") for vif in vm.record.vifs.values() if vif.get("qemu_pid") == vm.pid}
    for index in range(launch.HOTPLUG_PORTS):
        if launch.hotplug_port(index) not in taken:
            return launch.hotplug_port(index)
    raise DriverError(f"Instance {vm.uuid} has no free PCIe port for another NIC; stop and start it first.")


def plug(runtime: Runtime, vm: VM, vif: dict[str, Any]) -> None:
    port_id = str(vif["id"])
    if port_id in vm.record.vifs:
        raise DriverError(f"Instance {vm.uuid} already has interface {port_id}.")
    recorded = dict(vif)
    if runtime.alive(vm):
        netdev_id, nic_id = launch.nic_ids(port_id)
        bus = _free_hotplug_port(vm)
        runtime.execute(
            vm, "netdev_add",
            {"type": "tap", "id": netdev_id, "ifname": vif["device"], "script": "no", "downscript": "no"},
        )  # fmt: skip
        try:
            runtime.execute(
                vm, "device_add",
                {"driver": "virtio-net-pci", "id": nic_id, "netdev": netdev_id, "mac": vif["address"],
                 "bus": bus, "romfile": ""},
            )  # fmt: skip
        except DriverError:
            runtime.execute(vm, "netdev_del", {"id": netdev_id})
            raise
        recorded.update(bus=bus, qemu_pid=vm.pid)
    vm.record.vifs[port_id] = recorded
    vm.record.spec["network_info"] = [*vm.record.spec.get("network_info", []), dict(vif)]
    vm.save()


def unplug(runtime: Runtime, vm: VM, port_id: str, timeout: float = UNPLUG_TIMEOUT) -> None:
    if port_id not in vm.record.vifs:
        return
    if runtime.alive(vm) and vm.qmp is not None:
        netdev_id, nic_id = launch.nic_ids(port_id)
        mark = vm.qmp.event_mark()
        runtime.execute(vm, "device_del", {"id": nic_id})
        if vm.qmp.wait_event("DEVICE_DELETED", timeout, after=mark) is None:
            raise DriverError(
                f"The guest of instance {vm.uuid} did not release NIC {port_id} in {timeout:g} s."
            )
        runtime.execute(vm, "netdev_del", {"id": netdev_id})
    del vm.record.vifs[port_id]
    vm.record.spec["network_info"] = [
        vif for vif in vm.record.spec.get("network_info", []) if str(vif.get("id")) != port_id
    ]
    vm.save()
