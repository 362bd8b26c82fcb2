"""Networks: the project's networks and subnets, and a topology picture of the networks, the routers
joining them and the instances on each (an SVG drawn on the server, its facts also as a list)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import ProjectAPI
from overcast.dashboard.web import Dashboard

ROW_HEIGHT = 110
TOP = 50
NETWORK_LEFT = 180
SERVER_LEFT = 220
SERVER_WIDTH = 150
ROUTER_X = 80


@dataclass
class NetworkRow:
    id: str
    name: str
    cidrs: list[str]
    external: bool
    y: int
    servers: list[tuple[str, str, int]] = field(default_factory=list)  # (name, address, x)


@dataclass
class RouterNode:
    id: str
    name: str
    y: int
    legs: list[int]  # the y of each network it joins


@dataclass(frozen=True)
class Topology:
    networks: list[NetworkRow]
    routers: list[RouterNode]
    width: int
    height: int


def topology(networks: list[dict[str, Any]], subnets: list[dict[str, Any]], routers: list[dict[str, Any]],
             ports: list[dict[str, Any]], server_names: dict[str, str]) -> Topology:  # fmt: skip
    """Lays the picture out: one row per network (external ones first), its instances along it, each
    router left of the rows it joins, a leg to each."""
    ordered = sorted(
        networks, key=lambda network: (not network.get("router:external"), str(network.get("name")))
    )
    rows: dict[str, NetworkRow] = {}
    for index, network in enumerate(ordered):
        cidrs = [subnet["cidr"] for subnet in subnets if subnet["network_id"] == network["id"]]
        rows[network["id"]] = NetworkRow(
            network["id"],
            network.get("name") or network["id"],
            cidrs,
            bool(network.get("router:external")),
            TOP + index * ROW_HEIGHT,
        )
    legs: dict[str, set[str]] = {router["id"]: set() for router in routers}
    for router in routers:
        gateway = (router.get("external_gateway_info") or {}).get("network_id")
        if gateway:
            legs[router["id"]].add(gateway)
    for port in ports:
        owner = str(port.get("device_owner", ""))
        row = rows.get(port["network_id"])
        if row is None:
            continue
        if owner == "network:router_interface" and port["device_id"] in legs:
            legs[port["device_id"]].add(port["network_id"])
        elif owner.startswith("compute:"):
            address = ", ".join(ip["ip_address"] for ip in port.get("fixed_ips", []))
            name = server_names.get(port["device_id"], port["device_id"][:8])
            row.servers.append((name, address, SERVER_LEFT + len(row.servers) * SERVER_WIDTH))
    nodes = []
    for router in routers:
        joined = sorted(rows[network].y for network in legs[router["id"]] if network in rows)
        y = sum(joined) // len(joined) if joined else TOP
        nodes.append(
            RouterNode(router["id"], router.get("name") or router["id"], y + ROW_HEIGHT // 3, joined)
        )
    widest = max((len(row.servers) for row in rows.values()), default=0)
    width = max(720, SERVER_LEFT + widest * SERVER_WIDTH + 40)
    return Topology(list(rows.values()), nodes, width, TOP + max(1, len(rows)) * ROW_HEIGHT)


async def network_page(api: ProjectAPI) -> dict[str, Any]:
    networks, subnets, routers, ports, servers = await asyncio.gather(
        api.get("network", "/networks"),
        api.get("network", "/subnets"),
        api.get("network", "/routers"),
        api.get("network", "/ports"),
        api.get("compute", "/servers", {"limit": 1000}),
    )
    names = {server["id"]: server["name"] for server in servers["servers"]}
    picture = topology(networks["networks"], subnets["subnets"], routers["routers"], ports["ports"], names)
    return {"topology": picture, "networks": networks["networks"], "subnets": subnets["subnets"]}


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/project/networks")

    @pages.get("/")
    async def network_list(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        return dashboard.render(request, "networks.html", **await network_page(signed.api))

    @pages.post("/create")
    async def create(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        network = await signed.api.post("network", "/networks", {"network": {"name": form.get("name")}})
        if form.get("cidr"):
            subnet = {"network_id": network["network"]["id"], "ip_version": 4, "cidr": form.get("cidr"),
                      "name": f"{form.get('name')}-subnet"}  # fmt: skip
            await signed.api.post("network", "/subnets", {"subnet": subnet})
        return dashboard.redirect(request, "/project/networks/")

    @pages.post("/{network_id}/delete")
    async def delete(request: Request, network_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("network", f"/networks/{network_id}")
        return dashboard.redirect(request, "/project/networks/")

    return pages
