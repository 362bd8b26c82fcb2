"""The linuxbridge network driver's data-plane costs, beside the same `ip`/`nft` commands run directly.

    .venv/bin/python bench/network.py [--ports 1000] [--floor-ports 200] [--rule-changes 20]

Needs root and iproute2 + nftables. Everything happens in a namespace the benchmark makes (a simulated
host, ``ovcb-<tag>``) and removes at the end; no traffic is sent. Measured:

- wiring a port: ``ensure_port`` (a persistent tap on the network's bridge, its anti-spoofing chain,
  its security-group chains and map elements), once per port while the host fills up to ``--ports``;
  the floor is the same two commands (one ``ip -batch``, one ``nft -f``) with nothing read first.
- a security-group rule change with every port of the host in the group: ``ensure_security_group``
  alternating between two rule sets; the floor is ``nft -f`` of the same transaction. Target < 1 s.
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
from overcast.network.drivers.linuxbridge.commands import HostCommands, run
from overcast.network.drivers.linuxbridge.driver import LinuxBridgeDriver
from overcast.network.drivers.linuxbridge.firewall import MARK_TAG, TABLE, group_script, spoof_rules
from overcast.network.drivers.model import FixedIP, Network, Port, SecurityGroup, SecurityGroupRule

TARGET_PORT_P50_MS = 100.0
TARGET_RULE_CHANGE_MS = 1000.0
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


def timed_ms(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


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
    args = parser.parse_args()

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
        subprocess.run(["ip", "netns", "del", host], check=False)

    total = args.ports + args.floor_ports
    print(f"linuxbridge driver, one host namespace, {total} ports in one security group")
    print(f"{'measure':<46} {'overcast':>10} {'floor':>10} {'ratio':>7} {'target':>10}")
    median = statistics.median
    port_target, change_target = f"< {TARGET_PORT_P50_MS:.0f}", f"< {TARGET_RULE_CHANGE_MS:.0f}"
    rows = [
        ("port wired (tap + bridge + nft), p50 ms", median(wiring), median(floor_wiring), port_target),
        ("port wired, p99 ms", percentile(wiring, 0.99), percentile(floor_wiring, 0.99), ""),
        (f"rule change on {total} ports, p50 ms", median(changes), median(floor_changes), change_target),
        (f"rule change on {total} ports, max ms", max(changes), max(floor_changes), ""),
    ]
    for label, ours, floor, target in rows:
        print(f"{label:<46} {ours:>10.1f} {floor:>10.1f} {ours / floor:>7.2f} {target:>10}")


if __name__ == "__main__":
    main()
