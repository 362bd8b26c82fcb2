"""`overcast server ssh NAME`: log into a server by the way this host reaches it.

A server with a floating IP is reached from the outside namespace (the all-in-one's
``overcast-public``: the world beyond the cloud); else its fixed IP from its router's namespace or its
network's DHCP namespace on this host; a server without ports (QEMU's user-mode network) through the
port its compute host forwards, as ``overcast server ssh-info`` prints. The root namespace never gets
a route to a cloud's ranges, so every path but the last runs ssh inside a namespace.
"""

from __future__ import annotations

import argparse
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from overcast import errors
from overcast.cli.servers import find_server
from overcast.cloud import Cloud
from overcast.compute import instance_extra, network_info
from overcast.config import Settings
from overcast.db.models.network import FloatingIP, IPAllocation, Port
from overcast.network.defaults import OUTSIDE_NAMESPACE
from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import CommandFailed, namespaces
from overcast.network.host_state import ROUTER_INTERFACE_OWNER

GUEST_USER = "root"  # the tiny guest's only user
DEFAULT_KEY = Path("ssh") / "id_ed25519"  # under the data directory
KNOWN_HOSTS = Path("ssh") / "known_hosts"  # a file per server, under the data directory


@dataclass(frozen=True)
class ServerPort:
    """What reaching a server through one of its ports needs: its addresses and what serves them."""

    port_id: str
    network_id: str
    fixed_ips: tuple[str, ...]
    floating_ips: tuple[str, ...] = ()
    router_ids: tuple[str, ...] = ()  # routers with an interface on the port's network


@dataclass(frozen=True)
class ServerFacts:
    uuid: str
    ports: tuple[ServerPort, ...] = ()
    network_info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SshRoute:
    """Where ssh runs (a namespace, or this one) and what it connects to."""

    address: str
    via: str
    namespace: str | None = None
    port: int | None = None


def read_server(cloud: Cloud, name_or_id: str) -> ServerFacts:
    instance = find_server(cloud, name_or_id)
    with cloud.db.reader() as session:
        info = instance_extra.system_metadata(session, instance.uuid).get(network_info.SYSTEM_METADATA_KEY)
        rows = list(session.scalars(select(Port).where(Port.device_id == instance.uuid).order_by(Port.id)))
        ports = []
        for row in rows:
            fixed = tuple(
                session.scalars(select(IPAllocation.ip_address).where(IPAllocation.port_id == row.id))
            )
            floating = tuple(
                session.scalars(
                    select(FloatingIP.floating_ip_address).where(FloatingIP.fixed_port_id == row.id)
                )
            )
            routers = tuple(
                session.scalars(
                    select(Port.device_id)
                    .where(Port.network_id == row.network_id, Port.device_owner == ROUTER_INTERFACE_OWNER)
                    .order_by(Port.device_id)
                )
            )
            ports.append(ServerPort(row.id, row.network_id, tuple(sorted(fixed)), floating, routers))
    return ServerFacts(instance.uuid, tuple(ports), dict(info or {}))


def choose_route(facts: ServerFacts, present: set[str], outside: str = OUTSIDE_NAMESPACE) -> SshRoute:
    """The first way in that this host has: a floating IP from ``outside``, a fixed IP from a router's
    or the DHCP namespace (``present`` names this host's namespaces), else the forwarded port."""
    if not facts.ports:
        forwarded = facts.network_info
        if not forwarded.get("ssh_port"):
            raise errors.Conflict(
                f"Server {facts.uuid} has neither ports nor a forwarded SSH port (not running on QEMU?)."
            )
        address = str(forwarded.get("ssh_host") or "127.0.0.1")
        return SshRoute(address, "the port its compute host forwards", port=int(forwarded["ssh_port"]))
    for port in facts.ports:
        if port.floating_ips and outside in present:
            return SshRoute(port.floating_ips[0], f"floating IP, from {outside}", outside)
    for port in facts.ports:
        if not port.fixed_ips:
            continue
        for router_id in port.router_ids:
            namespace = names.router_namespace(router_id, None)
            if namespace in present:
                return SshRoute(port.fixed_ips[0], f"fixed IP, from router {router_id}", namespace)
        namespace = names.dhcp_namespace(port.network_id, None)
        if namespace in present:
            return SshRoute(
                port.fixed_ips[0], f"fixed IP, from the DHCP namespace of {port.network_id}", namespace
            )
    raise errors.Conflict(
        f"No namespace on this host reaches server {facts.uuid}: run this on the host serving its router "
        f"or its network's DHCP, or give it a floating IP."
    )


def ssh_argv(
    route: SshRoute,
    key: Path | None,
    user: str = GUEST_USER,
    extra: tuple[str, ...] = (),
    known_hosts: Path | None = None,
) -> list[str]:
    """The command that logs in by ``route`` (``ip netns exec`` for a namespace). ``extra`` follows the
    destination, where ssh takes a remote command and (OpenSSH) options too.

    Addresses are reused by other servers (a floating IP, a fixed IP, a forwarded port), so a server's
    host key is kept in its own ``known_hosts`` file: accepted on first use, checked afterwards."""
    argv = ["ssh"]
    if route.port is not None:
        argv += ["-p", str(route.port)]
    if key is not None:
        argv += ["-i", str(key)]
    if known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={known_hosts}", "-o", "StrictHostKeyChecking=accept-new"]
    argv += [f"{user}@{route.address}", *extra]
    return ["ip", "netns", "exec", route.namespace, *argv] if route.namespace else argv


def default_key(data_dir: Path) -> Path | None:
    """The data directory's key if there is one; else ssh's own defaults (~/.ssh/id_*) apply."""
    path = data_dir / DEFAULT_KEY
    return path if path.is_file() else None


def login(settings: Settings, args: argparse.Namespace) -> int:
    """Replace this process with ssh (its exit status is the command's), or print the command."""
    cloud = Cloud.from_settings(settings)
    try:
        facts = read_server(cloud, args.server)
    finally:
        cloud.close()
    present = _namespaces() if facts.ports else set()
    route = choose_route(facts, present, args.namespace or OUTSIDE_NAMESPACE)
    key = Path(args.identity) if args.identity else default_key(settings.data_dir)
    extra = list(args.ssh_args)
    known_hosts = settings.data_dir / KNOWN_HOSTS / facts.uuid
    known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    argv = ssh_argv(route, key, args.user, tuple(extra[1:] if extra[:1] == ["--"] else extra), known_hosts)
    if args.dry_run:
        print(f"# {route.via}\n{shlex.join(argv)}")
        return 0
    os.execvp(argv[0], argv)


def _namespaces() -> set[str]:
    """This host's namespaces; none where iproute2 is missing or cannot list them."""
    try:
        return namespaces()
    except (OSError, CommandFailed):
        return set()
