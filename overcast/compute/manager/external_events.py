"""os-server-external-events on the server's compute host (ExternalEventActions endpoint, RPC 1.8).

`power-update` (2.76: power management outside Overcast, Ironic's in Nova) moves the server to the
state its tag names, as Nova's compute manager does: POWER_OFF an ACTIVE server with no task running to
STOPPED, POWER_ON a STOPPED one to ACTIVE, anything else ignored; the hypervisor is then made to agree
(the VM powered off or on when it is not already), since no periodic task here would correct a VM that
runs while the database says STOPPED. `volume-extended` (2.51, tag: the volume) tells the guest its disk
grew (the QEMU driver's QMP block_resize) when the volume is attached to the server.
`network-vif-deleted` (tag: the port, deleted in the network service) unplugs that NIC from the guest
and unwires it, as Nova's manager detaches it. The other network events need nothing here: addresses
are read from the ports at every request and no build waits for a plug.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from overcast.compute import block_device_mappings, instances, states
from overcast.compute.manager.host import ComputeHost, HostEndpoint
from overcast.compute.manager.server_ports import ServerPorts
from overcast.compute.manager.volumes import VolumeActions
from overcast.context import RequestContext
from overcast.manager import rpc_method
from overcast.virt.driver import PowerState

LOG = logging.getLogger(__name__)

# tag -> (the vm_state the event applies to, the vm_state it leads to, the power the VM must have)
POWER_UPDATES = {
    "POWER_OFF": (states.ACTIVE, states.STOPPED, PowerState.SHUTDOWN),
    "POWER_ON": (states.STOPPED, states.ACTIVE, PowerState.RUNNING),
}


class ExternalEventActions(HostEndpoint):
    def __init__(
        self, compute_host: ComputeHost, rpc_api_version: str, volumes: VolumeActions, ports: ServerPorts
    ) -> None:
        super().__init__(compute_host, rpc_api_version)
        self.volumes = volumes
        self.ports = ports

    @rpc_method
    def external_instance_event(self, ctxt: RequestContext, events: list[dict[str, Any]]) -> None:
        """Each event on its own: one that fails is logged and does not keep the others from running."""
        for event in events:
            try:
                if event["name"] == "power-update":
                    self.power_update(ctxt, event["server_uuid"], event["tag"])
                elif event["name"] == "volume-extended":
                    self.volume_extended(ctxt, event["server_uuid"], event["tag"])
                elif event["name"] == "network-vif-deleted":
                    self.vif_deleted(ctxt, event["server_uuid"], event["tag"])
            except Exception:
                LOG.exception(
                    "[%s] External event %s for %s failed", ctxt.request_id, event, event["server_uuid"]
                )

    def power_update(self, ctxt: RequestContext, uuid: str, tag: str) -> None:
        expected, target, power = POWER_UPDATES[tag]
        swapped = self.cloud.db.write(functools.partial(
            instances.compare_and_swap, uuid=uuid, expected_task_state=(None,), expected_vm_state=(expected,),
            expected_host=self.host, vm_state=target, power_state=int(power),
        ))  # fmt: skip
        if not swapped:
            LOG.info(
                "[%s] power-update %s ignored for %s: not %s with no task",
                ctxt.request_id,
                tag,
                uuid,
                expected,
            )
            return
        notice = "power_off" if power == PowerState.SHUTDOWN else "power_on"
        self.compute_host.notify(ctxt, uuid, f"{notice}.start")
        if self.compute_host.power_state(uuid) != int(power):
            if power == PowerState.SHUTDOWN:
                self.driver.power_off(ctxt, uuid)
            else:
                self.driver.power_on(ctxt, uuid)
        self.compute_host.notify(ctxt, uuid, f"{notice}.end")

    def volume_extended(self, ctxt: RequestContext, uuid: str, volume_id: str) -> None:
        with self.cloud.db.reader() as session:
            attached = block_device_mappings.of_volume(session, uuid, volume_id) is not None
        if not attached:
            LOG.info(
                "[%s] volume-extended for %s ignored: %s is not attached to it",
                ctxt.request_id,
                uuid,
                volume_id,
            )
            return
        size = int(self.volumes.volumes.get(RequestContext.admin(), volume_id)["size"])
        self.volumes.extend_volume(ctxt, uuid, volume_id, size)

    def vif_deleted(self, ctxt: RequestContext, uuid: str, port_id: str) -> None:
        with self.compute_host.event(ctxt, uuid, "compute_detach_interface"):
            try:
                self.driver.detach_interface(ctxt, uuid, {"id": port_id})
            except Exception as exc:  # the guest may never have had it, or lost it already
                LOG.info("[%s] NIC %s of %s not unplugged: %s", ctxt.request_id, port_id, uuid, exc)
            self.ports.release(ctxt, uuid, port_id)
