"""What the network agent's unit tests share: a cloud on a migrated database, the Networking API that
makes its rows, and a bound port."""

from __future__ import annotations

import random
import uuid
from pathlib import Path
from typing import Any

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.network.api.service import NetworkAPI

ALICE = RequestContext(user_id="alice", project_id="project-a", roles=("member",))
ADMIN = RequestContext(user_id="root", project_id="admin", roles=("admin", "member"), is_admin=True)


def agent_cloud(db: Database, data_dir: Path, **settings: Any) -> Cloud:
    transport = get_transport(f"inproc://network-agent-{uuid.uuid4().hex}")
    return Cloud(
        settings=load_settings(data_dir=data_dir, network_driver="noop", **settings),
        db=db,
        transport=transport,
    )


def network_api(cloud: Cloud) -> NetworkAPI:
    return NetworkAPI(cloud, rng=random.Random(7))


def network_with_subnet(api: NetworkAPI, cidr: str = "10.0.0.0/24", **subnet: Any) -> tuple[str, str]:
    network = api.networks.create(ALICE, {"name": "net"})
    created = api.subnets.create(
        ALICE, {"network_id": network["id"], "ip_version": 4, "cidr": cidr, **subnet}
    )
    return network["id"], created["id"]


def bound_port(api: NetworkAPI, network_id: str, host: str, **attrs: Any) -> dict[str, Any]:
    """A VM's port as the compute host makes it: in the project, owned by compute, bound to `host`."""
    body = {
        "network_id": network_id,
        "project_id": ALICE.project_id,
        "device_id": str(uuid.uuid4()),
        "device_owner": "compute:nova",
        "binding:host_id": host,
        **attrs,
    }
    return api.ports.create(ADMIN, body)


def port_row(api: NetworkAPI, port_id: str) -> dict[str, Any]:
    return api.ports.get(ADMIN, port_id)


def external_network(api: NetworkAPI, cidr: str = "203.0.113.0/24") -> tuple[str, str]:
    """The cloud's `public` network, as an admin makes it: external, flat on the `public` physical network."""
    network = api.networks.create(
        ADMIN,
        {
            "name": "public",
            "router:external": True,
            "provider:network_type": "flat",
            "provider:physical_network": "public",
        },
    )
    subnet = api.subnets.create(
        ADMIN, {"network_id": network["id"], "ip_version": 4, "cidr": cidr, "enable_dhcp": False}
    )
    return network["id"], subnet["id"]


def routed_network(api: NetworkAPI, public_id: str) -> tuple[str, str, str]:
    """A project network whose subnet a router joins to `public`: (network, subnet, router)."""
    network_id, subnet_id = network_with_subnet(api)
    router = api.routers.create(ALICE, {"name": "router", "external_gateway_info": {"network_id": public_id}})
    api.routers.add_interface(ALICE, router["id"], {"subnet_id": subnet_id})
    return network_id, subnet_id, router["id"]
