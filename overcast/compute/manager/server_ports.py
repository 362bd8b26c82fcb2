"""A server's ports on this compute host: made or bound before the VM spawns, wired by the host's network
agent, unwired and deleted (or unbound, if the user brought them) when the server goes.

The API resolved what the server asked for into its system metadata (`compute/api/requested_networks.py`:
`requested_networks`, `security_group_ids`); the ports the host made are listed there too
(`created_port_ids`), so a delete knows which ports are the user's to keep, as Nova's
`preserve_on_delete` does.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import instance_extra
from overcast.compute.network_info import CREATED_PORT_IDS, REQUESTED_NETWORKS, SECURITY_GROUP_IDS
from overcast.compute.vif_settings import VifSettings
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.db.models.network import Port
from overcast.network.api.errors import PortNotFound
from overcast.network.api.service import NetworkAPI
from overcast.network.rpcapi import NetworkAgentAPI

LOG = logging.getLogger(__name__)

OWNER_PREFIX = "compute:"


class PortWiringFailed(errors.OvercastError):
    status = 500
    title = "computeFault"
    default_message = "A port of the server could not be wired."


class ServerPorts:
    def __init__(
        self, cloud: Cloud, host: str, network: NetworkAPI, settings: VifSettings | None = None
    ) -> None:
        self.cloud = cloud
        self.host = host
        self.network = network
        self.settings = settings or VifSettings()
        self.agent = NetworkAgentAPI(cloud.transport, timeout=self.settings.plugging_timeout)

    def allocate(
        self, ctxt: RequestContext, instance: Instance, zone: str, sysmeta: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Make or bind the server's ports on this host and have the agent wire each; the VIFs the
        driver plugs, in the order the server asked for them ([]: the driver's own networking).
        `sysmeta` is the instance's system metadata when the caller has read it."""
        if sysmeta is None:
            with self.cloud.db.reader() as session:
                sysmeta = instance_extra.system_metadata(session, instance.uuid)
        requested: list[dict[str, str]] = list(sysmeta.get(REQUESTED_NETWORKS) or [])
        groups = list(sysmeta.get(SECURITY_GROUP_IDS) or [])
        port_ids = [self._bind(ctxt, instance, item, zone, groups) for item in requested]
        return [self._wire(ctxt, instance.uuid, port_id) for port_id in port_ids]

    def attach(
        self, ctxt: RequestContext, instance: Instance, item: dict[str, str], zone: str
    ) -> dict[str, Any]:
        """One more port for a built server (os-interface): made or bound, then wired; its VIF. A port
        made here gets the project's default group, as Nova's attach does."""
        port_id = self._bind(ctxt, instance, item, zone, None)
        try:
            return self._wire(ctxt, instance.uuid, port_id)
        except Exception:
            self.release(ctxt, instance.uuid, port_id)
            raise

    def _bind(
        self,
        ctxt: RequestContext,
        instance: Instance,
        item: dict[str, str],
        zone: str,
        groups: list[str] | None,
    ) -> str:
        admin = RequestContext.admin(ctxt.request_id)
        binding = {
            "device_id": instance.uuid,
            "device_owner": f"{OWNER_PREFIX}{zone}",
            "binding:host_id": self.host,
        }
        if "port_id" in item:
            self.network.ports.update(admin, item["port_id"], binding)
            return item["port_id"]
        attrs: dict[str, Any] = {
            "network_id": item["network_id"],
            "project_id": instance.project_id,
            **binding,
        }
        if groups is not None:
            attrs["security_groups"] = groups
        if item.get("fixed_ip"):
            attrs["fixed_ips"] = [{"ip_address": item["fixed_ip"]}]
        port_id = str(self.network.ports.create(admin, attrs)["id"])
        # Recorded at once, so a failure further on still deletes every port made so far.
        self._remember_created(instance.uuid, port_id)
        return port_id

    def rebind(self, ctxt: RequestContext, uuid: str) -> list[dict[str, Any]]:
        """The VIFs of a server's ports for a VM this host (re)creates (rebuild, unshelve, a move's
        destination, a revert's source): each port bound to this host (unwired from the one it leaves)
        and wired here. [] for a server without ports."""
        with self.cloud.db.reader() as session:
            bound = list(
                session.execute(
                    select(Port.id, Port.binding_host_id)
                    .where(Port.device_id == uuid)
                    .order_by(Port.created_at)
                )
            )
        admin = RequestContext.admin(ctxt.request_id)
        for port_id, host in bound:
            if host == self.host:
                continue
            if host:
                try:
                    self.agent.unwire_port(ctxt, host, port_id, timeout=self.settings.plugging_timeout)
                except Exception:
                    LOG.warning(
                        "Port %s could not be unwired on %s, which it leaves for %s", port_id, host, self.host
                    )
            self.network.ports.update(admin, port_id, {"binding:host_id": self.host})
        return [self._wire(ctxt, uuid, port_id) for port_id, _ in bound]

    def _wire(self, ctxt: RequestContext, uuid: str, port_id: str) -> dict[str, Any]:
        try:
            vif = self.agent.wire_port(ctxt, self.host, port_id, timeout=self.settings.plugging_timeout)
        except Exception as exc:
            LOG.warning("Wiring port %s of instance %s on %s failed: %s", port_id, uuid, self.host, exc)
            # Short enough to survive in the fault after the conductor's "Exhausted all hosts" preface.
            limit = self.settings.plugging_timeout
            raise PortWiringFailed(
                f"Port {port_id} was not wired on {self.host} within {limit:g} s: {exc}"
            ) from exc
        return {
            "id": vif["port_id"],
            "address": vif["mac_address"],
            "type": "tap",
            "device": vif["device"],
            "mtu": vif["mtu"],
            "network_id": vif["network_id"],
            "fixed_ips": list(vif.get("fixed_ips") or []),
        }

    def _remember_created(self, uuid: str, port_id: str) -> None:
        def write(session: Session) -> None:
            created = instance_extra.system_metadata(session, uuid).get(CREATED_PORT_IDS) or []
            instance_extra.update_system_metadata(session, uuid, **{CREATED_PORT_IDS: [*created, port_id]})

        self.cloud.db.write(write)

    def deallocate(self, ctxt: RequestContext, uuid: str) -> None:
        """Unwire the server's ports; delete those this host made, unbind the ones the user brought."""
        with self.cloud.db.reader() as session:
            port_ids = list(session.scalars(select(Port.id).where(Port.device_id == uuid)))
        for port_id in port_ids:
            self.release(ctxt, uuid, port_id)

    def release(self, ctxt: RequestContext, uuid: str, port_id: str) -> None:
        """Unwire one port of the server; delete it if this host made it, else unbind it. Best effort
        each step: a delete never stops on a port someone already removed."""
        try:
            self.agent.unwire_port(ctxt, self.host, port_id, timeout=self.settings.plugging_timeout)
        except Exception:
            LOG.exception("Unwiring port %s of instance %s on %s failed", port_id, uuid, self.host)
        admin = RequestContext.admin(ctxt.request_id)
        with self.cloud.db.reader() as session:
            created = port_id in (instance_extra.system_metadata(session, uuid).get(CREATED_PORT_IDS) or [])
        try:
            if created:
                self.network.ports.delete(admin, port_id, tell_compute=False)
            else:
                unbound = {"device_id": "", "device_owner": "", "binding:host_id": ""}
                self.network.ports.update(admin, port_id, unbound)
        except PortNotFound:
            pass
        if created:
            self.cloud.db.write(lambda session: self._forget_created(session, uuid, port_id))

    @staticmethod
    def _forget_created(session: Session, uuid: str, port_id: str) -> None:
        created = instance_extra.system_metadata(session, uuid).get(CREATED_PORT_IDS) or []
        left = [one for one in created if one != port_id]
        instance_extra.update_system_metadata(session, uuid, **{CREATED_PORT_IDS: left})
