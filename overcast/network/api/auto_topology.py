"""Get-me-a-network (Neutron's auto-allocated-topology): a project's network, subnet and router with its
gateway on the default external network, made the first time it is asked for and the same one after.

The project's row in auto_allocated_topologies is claimed before anything is built, so of two first
servers asking at once one builds and the other waits for its result. A build that fails removes what
it made and its claim, so the next request starts afresh.
"""

from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import errors
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.network import AutoAllocatedTopology, Network, Subnet
from overcast.network import policies
from overcast.network.api.errors import NeutronTyped
from overcast.network.api.networks import Networks, enforce
from overcast.network.api.records import Record
from overcast.network.api.routers import Routers
from overcast.network.api.settings import NetworkSettings
from overcast.network.api.subnets import Subnets

NETWORK_NAME = "auto_allocated_network"
SUBNET_NAME = "auto_allocated_subnet_v4"
ROUTER_NAME = "auto_allocated_router"
DRY_RUN = "dry-run"
# How long a request waits for another one's build of the same project's topology.
WAIT_SECONDS = 30.0
POLL_SECONDS = 0.05


class AutoAllocationFailure(NeutronTyped, errors.Conflict):
    """Neutron's 409 when the cloud cannot give a project a topology."""


class AutoTopology:
    def __init__(
        self, db: Database, settings: NetworkSettings, networks: Networks, subnets: Subnets, routers: Routers
    ) -> None:
        self.db = db
        self.settings = settings
        self.networks = networks
        self.subnets = subnets
        self.routers = routers

    def get(self, ctxt: RequestContext, project_id: str, fields: list[str] | None = None) -> Record:
        """The project's topology (`id` is its network), made now if it has none; with the dry-run field,
        only whether it could be made."""
        enforce(ctxt, policies.GET_AUTO_ALLOCATED_TOPOLOGY, project_id)
        if fields and fields != [DRY_RUN]:
            raise errors.BadRequest("Unrecognized field")
        if fields:
            self.default_external_network()
            return {"id": "dry-run=pass", "tenant_id": project_id, "project_id": project_id}
        return _response(self.allocate(ctxt, project_id), project_id)

    def exists(self, project_id: str) -> str | None:
        """The network of the project's finished topology, if any."""
        with self.db.reader() as session:
            row = session.get(AutoAllocatedTopology, project_id)
            return row.network_id if row is not None else None

    def default_external_network(self) -> str:
        with self.db.reader() as session:
            found = _default_external_network(session)
        if found is None:
            raise AutoAllocationFailure("Deployment error: No default router:external network.")
        return found

    def allocate(self, ctxt: RequestContext, project_id: str) -> str:
        """The id of the project's auto-allocated network, built by this call or an earlier one."""
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            network_id = self.exists(project_id)
            if network_id is not None:
                return network_id
            external = self.default_external_network()
            if self._claim(project_id):
                return self._build(ctxt, project_id, external)
            if time.monotonic() > deadline:
                raise AutoAllocationFailure(
                    f"Deployment error: the topology of project {project_id} is still being made; retry."
                )
            time.sleep(POLL_SECONDS)

    def delete(self, ctxt: RequestContext, project_id: str) -> None:
        enforce(ctxt, policies.DELETE_AUTO_ALLOCATED_TOPOLOGY, project_id)
        with self.db.reader() as session:
            row = session.get(AutoAllocatedTopology, project_id)
            if row is None or row.network_id is None:
                return  # none, or another request is still making it: nothing of it is ours to remove
            network_id, router_id = row.network_id, row.router_id
        self._remove(ctxt, project_id, network_id, router_id)

    # --- building and removing ----------------------------------------------------------------------
    def _claim(self, project_id: str) -> bool:
        def write(session: Session) -> None:
            session.add(AutoAllocatedTopology(project_id=project_id))
            session.flush()

        try:
            self.db.write(write)
        except IntegrityError:
            return False
        return True

    def _build(self, ctxt: RequestContext, project_id: str, external: str) -> str:
        owner = {"project_id": project_id}
        made: dict[str, str] = {}
        try:
            made["network"] = str(self.networks.create(ctxt, {**owner, "name": NETWORK_NAME})["id"])
            made["subnet"] = str(
                self.subnets.create(
                    ctxt,
                    {
                        **owner,
                        "name": SUBNET_NAME,
                        "network_id": made["network"],
                        "ip_version": 4,
                        "cidr": self.settings.auto_allocated_cidr,
                    },
                )["id"]
            )
            made["router"] = str(
                self.routers.create(
                    ctxt, {**owner, "name": ROUTER_NAME, "external_gateway_info": {"network_id": external}}
                )["id"]
            )
            self.routers.add_interface(ctxt, made["router"], {"subnet_id": made["subnet"]})
        except BaseException:
            self._undo(ctxt, project_id, made)
            raise
        self.db.write(lambda session: _finish(session, project_id, made["network"], made["router"]))
        return made["network"]

    def _undo(self, ctxt: RequestContext, project_id: str, made: dict[str, str]) -> None:
        self._remove(ctxt, project_id, made.get("network"), made.get("router"))

    def _remove(
        self, ctxt: RequestContext, project_id: str, network_id: str | None, router_id: str | None
    ) -> None:
        if router_id is not None:
            if network_id is not None:
                self._detach(ctxt, router_id, network_id)
            self.routers.delete(ctxt, router_id)
        if network_id is not None:
            self.networks.delete(ctxt, network_id)
        self.db.write(lambda session: _release(session, project_id))

    def _detach(self, ctxt: RequestContext, router_id: str, network_id: str) -> None:
        with self.db.reader() as session:
            subnet_ids = list(session.scalars(select(Subnet.id).where(Subnet.network_id == network_id)))
        for subnet_id in subnet_ids:
            try:
                self.routers.remove_interface(ctxt, router_id, {"subnet_id": subnet_id})
            except errors.NotFound:
                continue  # never attached: the build stopped before


def _default_external_network(session: Session) -> str | None:
    return session.scalar(
        select(Network.id).where(Network.external, Network.is_default).order_by(Network.created_at).limit(1)
    )


def _finish(session: Session, project_id: str, network_id: str, router_id: str) -> None:
    row = session.get(AutoAllocatedTopology, project_id)
    assert row is not None, "a topology's claim is removed only by its builder"
    row.network_id, row.router_id = network_id, router_id


def _release(session: Session, project_id: str) -> None:
    row = session.get(AutoAllocatedTopology, project_id)
    if row is not None:
        session.delete(row)


def _response(network_id: str, project_id: str) -> Record:
    return {"id": network_id, "tenant_id": project_id, "project_id": project_id}
