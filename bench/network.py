"""The linuxbridge network driver's data-plane costs, beside the same `ip`/`nft` commands run directly.

    .venv/bin/python bench/network.py [--ports 1000] [--floor-ports 200] [--rule-changes 20]

Needs root and iproute2 + nftables. Everything happens in a namespace the benchmark makes (a simulated
host, ``ovcb-<tag>``) and removes at the end; no traffic is sent. Measured:

- wiring a port: ``ensure_port`` (a persistent tap on the network's bridge, its anti-spoofing chain,
  its security-group chains and map elements), once per port while the host fills up to ``--ports``;
  the floor is the same two commands (one ``ip -batch``, one ``nft -f``) with nothing read first.
- a no-op sync: ``sync`` of the host's whole state (its network, group and ``--ports`` ports) when it
  already holds all of it, as the agent's periodic sync mostly is; the floor reads the host once
  (``ip -d link``, ``bridge fdb``, ``nft list ruleset``) and compares nothing. Target < 1 s.
- a security-group rule change with every port of the host in the group: ``ensure_security_group``
  alternating between two rule sets; the floor is ``nft -f`` of the same transaction. Target < 1 s.
- a floating IP associated to reachable: ``ensure_router`` with the floating IP, until a TCP connect
  from the "outside" (a namespace at the far end of the flat external network) reaches a listener in
  the "VM" (a namespace on the private network); the floor makes the same changes directly (the /32,
  the NAT table, the gratuitous ARP). The outside forgets the address between samples.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

# Runnable as `python bench/network.py` from a checkout, like the other benchmarks.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.network.drivers import names
from overcast.network.drivers.linuxbridge.commands import HostCommands, namespaces, run
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.linuxbridge.firewall import MARK_TAG, TABLE, group_script, spoof_rules
from overcast.network.drivers.linuxbridge.routers import nat_script
from overcast.network.drivers.model import (
    ExternalGateway,
    FixedIP,
    FloatingIP,
    HostState,
    Network,
    Port,
    Router,
    RouterInterface,
    SecurityGroup,
    SecurityGroupRule,
)

TARGET_PORT_P50_MS = 100.0
TARGET_RULE_CHANGE_MS = 1000.0
TARGET_NOOP_SYNC_MS = 1000.0
FLOOR_MARK_BASE = MARK_TAG + 0x8000  # far from the driver's own marks, which count up from MARK_TAG + 1


def vxlan(vni: int) -> Network:
    return Network(id=str(uuid.uuid4()), segmentation_type="vxlan", segmentation_id=vni, mtu=1450)


def new_port(network: Network, index: int, group: SecurityGroup) -> Port:
    port_id = str(uuid.uuid4())
    return Port(
        id=port_id,
        network_id=network.id,
        mac_address=f"fa:16:3e:{index >> 16 & 0xFF:02x}:{index >> 8 & 0xFF:02x}:{index & 0xFF:02x}",
        device=names.tap(port_id),
        fixed_ips=(FixedIP("subnet", f"10.{index >> 16 & 0xFF}.{index >> 8 & 0xFF}.{index & 0xFF}"),),
        security_group_ids=(group.id,),
    )


def groups(group_id: str) -> tuple[SecurityGroup, SecurityGroup]:
    """Two versions of one group (Neutron's defaults, with and without SSH and ICMP from anywhere)."""

    def rule(direction: str, **fields: object) -> SecurityGroupRule:
        return SecurityGroupRule(id=str(uuid.uuid4()), direction=direction, **fields)  # type: ignore[arg-type]

    base = (rule("egress"), rule("ingress", remote_group_id=group_id))
    ssh = rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22)
    opened = (*base, ssh, rule("ingress", protocol="icmp"))
    return SecurityGroup(id=group_id, rules=base), SecurityGroup(id=group_id, rules=opened)


def floor_port(commands: HostCommands, bridge: str, port: Port, mark: int) -> None:
    """What wiring a port takes at least: the device on the bridge, then its chains and elements."""
    commands.ip_batch(
        [f"tuntap add dev {port.device} mode tap", f"link set dev {port.device} master {bridge} mtu 1450 up"]
    )
    spoof, egress, ingress = f"spoof-{port.id}", f"port-{port.id}-egress", f"port-{port.id}-ingress"
    group = port.security_group_ids[0]
    lines = [f"add chain bridge {TABLE} {spoof}"]
    lines += [f"add rule bridge {TABLE} {spoof} {rule}" for rule in spoof_rules(port)]
    for chain, direction in ((egress, "egress"), (ingress, "ingress")):
        lines.append(f"add chain inet {TABLE} {chain}")
        lines.append(f"add rule inet {TABLE} {chain} jump sg-{group}-{direction}")
        lines.append(f"add rule inet {TABLE} {chain} drop")
    lines += [
        f'add element bridge {TABLE} port_marks {{ "{port.device}" : {mark} }}',
        f'add element bridge {TABLE} spoof_checks {{ "{port.device}" : jump {spoof} }}',
        f"add element inet {TABLE} egress_ports {{ {mark} : jump {egress} }}",
        f"add element inet {TABLE} ingress_ports {{ {mark} : jump {ingress} }}",
    ]
    commands.inside("nft", "-f", "-", stdin="\n".join(lines) + "\n")


def read_host(commands: HostCommands) -> None:
    """What a sync must read of a host at least: its links, its FDB and its ruleset, once each."""
    commands.ip_json("-d", "link", "show")
    commands.bridge_json("fdb", "show")
    commands.inside("nft", "-j", "list", "ruleset")


def timed_ms(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


# In the outside namespace: for each address read, connect to its port 22 until one connect succeeds,
# then print the monotonic clock (the same clock in every namespace).
PROBER = """
import socket, sys, time
for line in sys.stdin:
    while True:
        try:
            socket.create_connection((line.strip(), 22), timeout=0.05).close()
            break
        except OSError:
            time.sleep(0.002)
    print(time.monotonic(), flush=True)
"""
LISTENER = """
import socket
server = socket.create_server(("0.0.0.0", 22))
print("up", flush=True)
while True:
    server.accept()[0].close()
"""
FLOATING, FIXED, OUTSIDE = "198.51.100.20", "10.0.0.10", "198.51.100.1"


class FloatingIPSite:
    """A host with a private network (one "VM" namespace listening on port 22), a flat external
    network whose far end is the "outside" namespace, and a router between them."""

    def __init__(self, state_dir: Path) -> None:
        tag = uuid.uuid4().hex[:6]
        self.host, self.outside, self.vm = f"ovcb-{tag}-host", f"ovcb-{tag}-out", f"ovcb-{tag}-vm"
        self.processes: list[subprocess.Popen[str]] = []
        for namespace in (self.host, self.outside, self.vm):
            run(["ip", "netns", "add", namespace])
            run(["ip", "-n", namespace, "link", "set", "lo", "up"])
        self._veth(self.outside, "ovcb-phys", f"{OUTSIDE}/24")
        uplinks = {"physnet1": "ovcb-phys"}
        self.driver = LinuxBridgeDriver(
            self.host, physical_interfaces=uplinks, state_dir=state_dir, local_vtep_ip="198.18.0.1"
        )
        private = vxlan(100)
        public = Network(str(uuid.uuid4()), segmentation_type="flat", physical_network="physnet1", mtu=1500)
        port_id = str(uuid.uuid4())
        port = Port(port_id, private.id, "fa:16:3e:00:00:0a", names.tap(port_id), port_security_enabled=False)
        self._veth(self.vm, port.device, f"{FIXED}/24")
        run(["ip", "-n", self.vm, "route", "add", "default", "via", "10.0.0.1"])
        leg = RouterInterface(str(uuid.uuid4()), private.id, "fa:16:3e:00:01:01", "10.0.0.1", "10.0.0.0/24")
        gateway = ExternalGateway(
            str(uuid.uuid4()), public.id, "fa:16:3e:00:02:0a", "198.51.100.10", "198.51.100.0/24", OUTSIDE
        )
        self.router = Router(id=str(uuid.uuid4()), interfaces=(leg,), gateway=gateway)
        self.associated = Router(self.router.id, (leg,), gateway, (FloatingIP(FLOATING, FIXED),))
        self.driver.ensure_network(private)
        self.driver.ensure_network(public)
        self.driver.ensure_port(port)
        self.driver.ensure_router(self.router)
        self.router_namespace = HostCommands(self.driver.routers.namespace(self.router.id))
        self.gateway_device = names.router_namespace_side(gateway.port_id)
        listener = self._spawn(self.vm, LISTENER)
        assert listener.stdout is not None and listener.stdout.readline().strip() == "up"
        self.prober = self._spawn(self.outside, PROBER)

    def _veth(self, namespace: str, host_end: str, address: str) -> None:
        pair = ["type", "veth", "peer", "name", "eth0", "netns", namespace]
        run(["ip", "-n", self.host, "link", "add", host_end, *pair])
        run(["ip", "-n", namespace, "addr", "add", address, "dev", "eth0"])
        run(["ip", "-n", namespace, "link", "set", "eth0", "up"])

    def _spawn(self, namespace: str, script: str) -> subprocess.Popen[str]:
        command = ["ip", "netns", "exec", namespace, sys.executable, "-c", script]
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.processes.append(process)
        return process

    def associate_directly(self) -> None:
        """What associating takes at least: the /32, the NAT table, the gratuitous ARP."""
        inside, device = self.router_namespace, self.gateway_device
        inside.ip("addr", "add", f"{FLOATING}/32", "dev", device)
        inside.inside("nft", "-f", "-", stdin=nat_script(self.associated, device))
        inside.inside("busybox", "arping", "-U", "-c", "1", "-w", "1", "-I", device, "-s", FLOATING, FLOATING)

    def disassociate_directly(self) -> None:
        self.router_namespace.ip("addr", "del", f"{FLOATING}/32", "dev", self.gateway_device)
        self.router_namespace.inside("nft", "-f", "-", stdin=nat_script(self.router, self.gateway_device))

    def reachable_ms(self, associate: object) -> float:
        """From calling ``associate`` until the outside's connect to the floating IP succeeds."""
        run(["ip", "-n", self.outside, "neigh", "flush", "all"])
        assert self.prober.stdin is not None and self.prober.stdout is not None
        started = time.monotonic()
        associate()  # type: ignore[operator]
        self.prober.stdin.write(FLOATING + "\n")
        self.prober.stdin.flush()
        return (float(self.prober.stdout.readline()) - started) * 1000

    def close(self) -> None:
        for process in self.processes:
            process.kill()
            process.communicate()
        remove_namespaces(self.host, self.outside, self.vm)


def floating_ip_samples(samples: int) -> tuple[list[float], list[float]]:
    """Associate-to-reachable times in ms through the driver, then through the same commands directly."""
    with tempfile.TemporaryDirectory() as state_dir:
        site = FloatingIPSite(Path(state_dir))
        try:
            ours, floor = [], []
            for _ in range(samples):
                ours.append(site.reachable_ms(lambda: site.driver.ensure_router(site.associated)))
                site.driver.ensure_router(site.router)
            for _ in range(samples):
                floor.append(site.reachable_ms(site.associate_directly))
                site.disassociate_directly()
            return ours, floor
        finally:
            site.close()


def remove_namespaces(host: str, *others: str) -> None:
    """The benchmark's namespaces and those the driver made for its host (a router's, a DHCP server's)."""
    made = [name for name in namespaces() if name.endswith(f"-on-{host}")]
    for namespace in (*made, host, *others):
        subprocess.run(["ip", "netns", "del", namespace], check=False)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ports", type=int, default=1000)
    parser.add_argument("--floor-ports", type=int, default=200)
    parser.add_argument("--rule-changes", type=int, default=20)
    parser.add_argument("--floating-ips", type=int, default=20)
    parser.add_argument("--syncs", type=int, default=5)
    args = parser.parse_args()
    floating, floating_floor = floating_ip_samples(args.floating_ips)

    host = f"ovcb-{uuid.uuid4().hex[:6]}"
    run(["ip", "netns", "add", host])
    try:
        with tempfile.TemporaryDirectory() as state_dir:
            driver = LinuxBridgeDriver(host, local_vtep_ip="198.18.0.1", state_dir=Path(state_dir))
            network = vxlan(100)
            closed, opened = groups(str(uuid.uuid4()))
            driver.ensure_network(network)
            driver.ensure_security_group(closed)

            ports = [new_port(network, index + 1, closed) for index in range(args.ports)]
            wiring = [timed_ms(lambda port=port: driver.ensure_port(port)) for port in ports]
            # The agent's periodic sync when nothing changed; the floor is reading the host alone.
            state = HostState(networks=(network,), ports=tuple(ports), security_groups=(closed,))
            driver.sync(state)
            noop_syncs = [timed_ms(lambda: driver.sync(state)) for _ in range(args.syncs)]
            host_reads = [timed_ms(lambda: read_host(driver.commands)) for _ in range(args.syncs)]
            # A bridge takes at most 1,023 ports (BR_MAX_PORTS): the floor's go on a second network.
            floor_network = vxlan(101)
            driver.ensure_network(floor_network)
            floor_ports = [new_port(floor_network, 0x10000 + i, closed) for i in range(args.floor_ports)]
            bridge = names.bridge(floor_network.id)
            floor_wiring = [
                timed_ms(lambda p=port, m=FLOOR_MARK_BASE + index: floor_port(driver.commands, bridge, p, m))
                for index, port in enumerate(floor_ports)
            ]

            members = frozenset(port.fixed_ips[0].ip_address for port in ports + floor_ports)
            versions = [SecurityGroup(group.id, group.rules, members) for group in (opened, closed)]
            changes = [
                timed_ms(lambda group=versions[i % 2]: driver.ensure_security_group(group))
                for i in range(args.rule_changes)
            ]
            nft = driver.commands.inside
            scripts = [group_script(versions[i % 2]) for i in range(args.rule_changes)]
            floor_changes = [timed_ms(lambda t=text: nft("nft", "-f", "-", stdin=t)) for text in scripts]
    finally:
        remove_namespaces(host)

    total = args.ports + args.floor_ports
    print(f"linuxbridge driver, one host namespace, {total} ports in one security group")
    print(f"{'measure':<46} {'overcast':>10} {'floor':>10} {'ratio':>7} {'target':>10}")
    median = statistics.median
    port_target, change_target = f"< {TARGET_PORT_P50_MS:.0f}", f"< {TARGET_RULE_CHANGE_MS:.0f}"
    sync_target = f"< {TARGET_NOOP_SYNC_MS:.0f}"
    rows = [
        ("port wired (tap + bridge + nft), p50 ms", median(wiring), median(floor_wiring), port_target),
        ("port wired, p99 ms", percentile(wiring, 0.99), percentile(floor_wiring, 0.99), ""),
        (f"no-op sync of {args.ports} ports, p50 ms", median(noop_syncs), median(host_reads), sync_target),
        (f"rule change on {total} ports, p50 ms", median(changes), median(floor_changes), change_target),
        (f"rule change on {total} ports, max ms", max(changes), max(floor_changes), ""),
        ("floating IP associated to reachable, p50 ms", median(floating), median(floating_floor), ""),
    ]
    for label, ours, floor, target in rows:
        print(f"{label:<46} {ours:>10.1f} {floor:>10.1f} {ours / floor:>7.2f} {target:>10}")


if __name__ == "__main__":
    main()
