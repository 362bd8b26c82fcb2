"""DHCP for a network: ``dnsmasq`` in a namespace of its own, joined to the network's bridge by a veth.

The namespace (``ovc-dhcp-<network id>``, plus ``-on-<host namespace>`` for a simulated host) holds the
veth end ``ovn-…`` with the DHCP port's MAC and addresses, and the metadata address 169.254.169.254/32
on which the agent's metadata proxy listens; the bridge end is ``ovd-…``. dnsmasq serves static entries
only (``static`` ranges: a port's MAC gets its fixed IP and host name, nobody else gets anything), with
DNS off (``--port=0``), the subnets' gateway, DNS servers, MTU and classless static routes (option 121):
the metadata address via the DHCP port, the subnet's host routes, and the default route via its gateway,
since clients that take 121 ignore option 3 (Neutron's force-metadata mode: every guest reaches the
metadata service through its network's DHCP namespace, with or without a router).
Its files live in ``state_dir/<network id>/``: the command line, the hosts file and the options file.
A change of entries or options rewrites the files and sends SIGHUP (dnsmasq re-reads both); a change
of subnets or addresses restarts it; a dead dnsmasq is started again, so ``ensure`` is the check the
agent runs. An entry that leaves (its port deleted or readdressed) has its lease released with
``dhcp_release``, and a dnsmasq (re)starts from a lease file without such leases: dnsmasq refuses to
offer an address leased to another MAC, and IPAM gives a freed address to the next port, whose VM
would otherwise get no answer until the old lease expired a day later. dnsmasq runs as root because
the state directory is private to root (it re-reads its files after a SIGHUP).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shutil
import signal
import time
from pathlib import Path

from overcast.network.drivers import names
from overcast.network.drivers.base import NetworkNotWired
from overcast.network.drivers.linuxbridge.commands import CommandFailed, HostCommands, namespaces, run
from overcast.network.drivers.linuxbridge.legs import Leg, ensure_leg, ensure_namespace, remove_namespace
from overcast.network.drivers.model import DhcpServer, Subnet

LOG = logging.getLogger(__name__)
DHCP_ALIAS = "overcast dhcp "
# overcast.network.metadata's, not imported from there: the proxy's module pulls in the whole cloud.
METADATA_ADDRESS = "169.254.169.254"
METADATA_ROUTE = f"{METADATA_ADDRESS}/32"
LEASE_SECONDS = 86400
STOP_WAIT_SECONDS = 2.0


class Dhcp:
    def __init__(self, commands: HostCommands, state_dir: Path) -> None:
        self.commands = commands
        self.state_dir = state_dir

    def namespace(self, network_id: str) -> str:
        return names.dhcp_namespace(network_id, self.commands.namespace)

    def _folder(self, network_id: str) -> Path:
        return self.state_dir / network_id

    # --- reading ----------------------------------------------------------------------------------
    def networks(self) -> frozenset[str]:
        """The networks with a DHCP namespace of this host."""
        return names.owned_namespaces("dhcp", namespaces(), self.commands.namespace)

    def pid(self, network_id: str) -> int | None:
        """The running dnsmasq's pid, if it runs (checked against its command line: pids are reused)."""
        pid_file = self._folder(network_id) / "dnsmasq.pid"
        try:
            pid = int(pid_file.read_text().strip())
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if str(pid_file).encode() in command_line else None

    # --- ensure and remove ------------------------------------------------------------------------
    def ensure(self, server: DhcpServer) -> None:
        bridge = names.bridge(server.network_id)
        try:
            mtu = self.commands.ip_json("link", "show", "dev", bridge)[0]["mtu"]
        except CommandFailed as error:
            raise NetworkNotWired(f"Network {server.network_id} is not wired here.") from error
        namespace = self.namespace(server.network_id)
        ensure_namespace(namespace)
        ensure_leg(self.commands, namespace, self._leg(server, bridge, mtu))
        folder = self._folder(server.network_id)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        arguments = self._arguments(server, folder)
        restart = _write_if_changed(folder / "command", "\n".join(arguments) + "\n")
        hosts_file = folder / "hosts"
        wanted = _entries_of(server)
        gone = _entries(hosts_file) - wanted
        reload = _write_if_changed(hosts_file, _hosts_file(server))
        reload = _write_if_changed(folder / "options", _options_file(server)) or reload
        pid = self.pid(server.network_id)
        if pid is not None and restart:
            self._stop(pid)
            pid = None
        if pid is None:
            _drop_leases_not_in(folder / "leases", wanted)
            run(["nsenter", f"--net=/run/netns/{namespace}", *arguments])
            return
        if reload:
            os.kill(pid, signal.SIGHUP)
        for mac_address, ip_address in sorted(gone):
            self._release(server.network_id, mac_address, ip_address)

    def _release(self, network_id: str, mac_address: str, ip_address: str) -> None:
        """Have the running dnsmasq forget the lease (a DHCPRELEASE sent as if from the client); one
        that fails is dropped from the lease file at dnsmasq's next start."""
        interface = names.dhcp_namespace_side(network_id)
        try:
            run(["nsenter", f"--net=/run/netns/{self.namespace(network_id)}",
                 "dhcp_release", interface, ip_address, mac_address])  # fmt: skip
        except CommandFailed as error:
            LOG.warning("could not release the DHCP lease of %s on %s: %s", mac_address, ip_address, error)

    def _leg(self, server: DhcpServer, bridge: str, mtu: int) -> Leg:
        return Leg(
            bridge=bridge,
            mtu=mtu,
            host_side=names.dhcp_host_side(server.network_id),
            inner=names.dhcp_namespace_side(server.network_id),
            mac_address=server.mac_address,
            addresses=frozenset(_interface_addresses(server)),
            alias=f"{DHCP_ALIAS}{server.network_id}",
        )

    def _arguments(self, server: DhcpServer, folder: Path) -> list[str]:
        arguments = [
            "dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--port=0",
            "--user=root", "--group=root", "--bind-interfaces", "--except-interface=lo",
            f"--interface={names.dhcp_namespace_side(server.network_id)}",
            f"--pid-file={folder / 'dnsmasq.pid'}", f"--dhcp-leasefile={folder / 'leases'}",
            f"--dhcp-hostsfile={folder / 'hosts'}", f"--dhcp-optsfile={folder / 'options'}",
            "--dhcp-authoritative", "--no-ping",
        ]  # fmt: skip
        for subnet in _dhcp_subnets(server):
            network = ipaddress.ip_network(subnet.cidr)
            arguments.append(
                f"--dhcp-range=set:{_tag(subnet)},{network.network_address},static,{network.netmask},{LEASE_SECONDS}s"
            )
        return arguments

    def _stop(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def remove(self, network_id: str) -> None:
        pid = self.pid(network_id)
        if pid is not None:
            self._stop(pid)
        remove_namespace(self.namespace(network_id))
        with contextlib.suppress(CommandFailed):  # gone with the namespace, unless that was lost
            self.commands.ip("link", "del", "dev", names.dhcp_host_side(network_id))
        shutil.rmtree(self._folder(network_id), ignore_errors=True)


def _dhcp_subnets(server: DhcpServer) -> list[Subnet]:
    return [subnet for subnet in server.subnets if subnet.enable_dhcp and ":" not in subnet.cidr]


def _tag(subnet: Subnet) -> str:
    return f"subnet-{subnet.id}"


def _interface_addresses(server: DhcpServer) -> set[str]:
    prefixes = {subnet.id: ipaddress.ip_network(subnet.cidr).prefixlen for subnet in server.subnets}
    addresses = {
        f"{fixed.ip_address}/{prefixes[fixed.subnet_id]}"
        for fixed in server.fixed_ips
        if fixed.subnet_id in prefixes and ":" not in fixed.ip_address
    }
    return addresses | {METADATA_ROUTE} if addresses else addresses


def _classless_routes(server: DhcpServer, subnet: Subnet) -> list[tuple[str, str]]:
    """Option 121 for the subnet: the metadata address via the DHCP port's address on it, the host routes,
    and the default route via the gateway; a host route of the subnet to either destination wins."""
    routes = [(route.destination, route.nexthop) for route in subnet.host_routes]
    own_address = next((fixed.ip_address for fixed in server.fixed_ips if fixed.subnet_id == subnet.id), None)
    if own_address and METADATA_ROUTE not in {destination for destination, _ in routes}:
        routes.insert(0, (METADATA_ROUTE, own_address))
    if subnet.gateway_ip and routes and "0.0.0.0/0" not in {destination for destination, _ in routes}:
        routes.append(("0.0.0.0/0", subnet.gateway_ip))
    return routes


def _hosts_file(server: DhcpServer) -> str:
    return "".join(f"{host.mac_address},{host.ip_address},{host.hostname}\n" for host in server.hosts)


def _options_file(server: DhcpServer) -> str:
    lines = []
    for subnet in _dhcp_subnets(server):
        tag = f"tag:{_tag(subnet)}"
        lines.append(f"{tag},option:router{',' + subnet.gateway_ip if subnet.gateway_ip else ''}")
        if subnet.dns_nameservers:
            lines.append(f"{tag},option:dns-server,{','.join(subnet.dns_nameservers)}")
        routes = _classless_routes(server, subnet)
        if routes:
            lines.append(f"{tag},option:classless-static-route,{','.join(f'{d},{n}' for d, n in routes)}")
        if server.mtu:
            lines.append(f"{tag},option:mtu,{server.mtu}")
    return "".join(line + "\n" for line in lines)


def _entries_of(server: DhcpServer) -> set[tuple[str, str]]:
    return {(host.mac_address.lower(), host.ip_address) for host in server.hosts}


def _entries(hosts_file: Path) -> set[tuple[str, str]]:
    """The (MAC, address) pairs of a hosts file as `_hosts_file` writes it."""
    try:
        lines = hosts_file.read_text().splitlines()
    except FileNotFoundError:
        return set()
    return {
        (fields[0].lower(), fields[1]) for fields in (line.split(",") for line in lines) if len(fields) >= 2
    }


def _drop_leases_not_in(lease_file: Path, entries: set[tuple[str, str]]) -> None:
    """Keep only leases of current entries (a lease line: expiry, MAC, address, host name, client id)."""
    try:
        lines = lease_file.read_text().splitlines()
    except FileNotFoundError:
        return
    kept = [line for line in lines if tuple(line.split()[1:3]) in entries]
    if len(kept) != len(lines):
        _write_if_changed(lease_file, "".join(line + "\n" for line in kept))


def _write_if_changed(path: Path, content: str) -> bool:
    if path.exists() and path.read_text() == content:
        return False
    partial = path.with_suffix(".partial")
    partial.write_text(content)
    partial.replace(path)
    return True
