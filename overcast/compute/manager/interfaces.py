"""Compute service: os-interface's attach and detach on this host (an additional RPC endpoint).

Attach makes or binds the port, has the host's agent wire it and the driver plug it; a failure at any
step gives the port back (deleted if made here, unbound if the user's), so nothing is left half-done.
"""

from __future__ import annotations

import logging

from overcast import errors
from overcast.compute.manager.host import ComputeHost, HostEndpoint
from overcast.compute.manager.server_ports import ServerPorts
from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.context import RequestContext
from overcast.manager import rpc_method

LOG = logging.getLogger(__name__)


class InterfaceAttachFailed(errors.OvercastError):
    status = 500
    title = "computeFault"
    default_message = "Failed to attach a network adapter device."


class InterfaceActions(HostEndpoint):
    def __init__(self, compute_host: ComputeHost, rpc_api_version: str, ports: ServerPorts) -> None:
        super().__init__(compute_host, rpc_api_version)
        self.ports = ports

    @rpc_method
    def attach_interface(self, ctxt: RequestContext, instance_uuid: str, requested: dict[str, str]) -> str:
        instance = self.compute_host.load(instance_uuid)
        if instance is None:
            raise errors.NotFound(f"Instance {instance_uuid} could not be found on {self.host}.")
        with self.compute_host.event(ctxt, instance_uuid, "compute_attach_interface"):
            zone = instance.availability_zone or DEFAULT_AVAILABILITY_ZONE
            try:
                vif = self.ports.attach(ctxt, instance, requested, zone)
            except errors.OvercastError:
                raise
            except Exception as exc:
                raise InterfaceAttachFailed(
                    f"Failed to attach network adapter device to {instance_uuid}"
                ) from exc
            try:
                self.driver.attach_interface(ctxt, instance_uuid, vif)
            except Exception as exc:
                LOG.warning("Plugging port %s into %s failed: %s", vif["id"], instance_uuid, exc)
                self.ports.release(ctxt, instance_uuid, str(vif["id"]))
                raise InterfaceAttachFailed(
                    f"Failed to attach network adapter device to {instance_uuid}"
                ) from exc
        return str(vif["id"])

    @rpc_method
    def detach_interface(self, ctxt: RequestContext, instance_uuid: str, port_id: str) -> None:
        with self.compute_host.event(ctxt, instance_uuid, "compute_detach_interface"):
            self.driver.detach_interface(ctxt, instance_uuid, {"id": port_id})
            self.ports.release(ctxt, instance_uuid, port_id)
