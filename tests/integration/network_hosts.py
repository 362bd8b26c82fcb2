"""Simulated hosts and VMs for the network driver's integration tests, all in namespaces a test makes.

A `Lab` names everything it creates ``ovct-<tag>-…`` (and the driver's own namespaces for a lab host
end in that host's name), so `cleanup` finds and removes all of it, dnsmasq processes included, even
after a failed test, and `leftovers` proves it did. Underlay addresses are in 198.18.0.0/15 (RFC 2544's
benchmarking range) and exist only inside the lab's namespaces; the root namespace gets no address or
route for any of them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from overcast.guest.scripts import UDHCPC_SCRIPT
from overcast.network.drivers.linuxbridge.commands import namespaces, run
from overcast.network.drivers.model import Port
from tests.support.waiting import WAIT_SECONDS

UNDERLAY_PREFIX = 24


def tools_available() -> bool:
    return os.geteuid() == 0 and all(
        subprocess.run(["which", tool], capture_output=True, check=False).returncode == 0
        for tool in ("ip", "bridge", "nft", "nsenter", "dnsmasq", "busybox", "unshare")
    )


@dataclass
class VM:
    """A namespace standing for a VM: its NIC ``eth0`` is the peer of the port's device on the host."""

    namespace: str
    port: Port

    def run(self, *args: str, timeout: float = WAIT_SECONDS) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def configure_by_dhcp(self, folder: Path) -> subprocess.CompletedProcess[str]:
        """Run udhcpc with the tiny guest's own script (``overcast.guest.scripts``), as the guest boots: it
        sets eth0's address and the routes it was offered. The script's busybox applets come first on
        PATH, and a private mount namespace gives it a resolv.conf of the test's to rewrite."""
        applets = folder / "guest-bin"
        applets.mkdir(exist_ok=True)
        busybox = shutil.which("busybox") or "busybox"
        for applet in ("ifconfig", "route"):
            if not (applets / applet).exists():
                (applets / applet).symlink_to(busybox)
        script = folder / "guest-udhcpc.script"
        script.write_text(UDHCPC_SCRIPT)
        script.chmod(0o700)
        resolv = folder / f"resolv-{self.namespace}.conf"
        resolv.write_text("")
        udhcpc = f'"{busybox}" udhcpc -i eth0 -s "{script}" -O staticroutes -q -n -t 5 -T 1'
        command = f'mount --bind "{resolv}" /etc/resolv.conf && exec {udhcpc}'
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, "unshare", "--mount", "sh", "-c", command],
            env={"PATH": f"{applets}:/usr/sbin:/usr/bin:/sbin:/bin"},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def routes(self) -> set[str]:
        """The VM's routes as ``<destination> via <next hop>`` (or ``<destination> dev eth0``)."""
        listed = self.run("ip", "route")
        return {" ".join(line.split()[:3]) for line in listed.stdout.splitlines()}

    def ping(self, address: str, count: int = 2, source: str | None = None) -> bool:
        """Busybox's ping (busybox-static is a runtime package): true if any reply came back. Its exit
        status would say whether every one did, and a link just set up may drop the first (the kernel
        activates a new carrier's queue up to a second late)."""
        options = ["-c", str(count), "-W", "1", "-w", str(count + 1), *(["-I", source] if source else [])]
        reply = self.run("busybox", "ping", *options, address)
        match = re.search(r"(\d+) packets received", reply.stdout)
        return match is not None and int(match[1]) > 0


@dataclass
class Lab:
    state_dir: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    processes: list[subprocess.Popen[str]] = field(default_factory=list)

    def spawn(self, vm: VM | str, *args: str) -> subprocess.Popen[str]:
        """A long-running process in the VM or namespace (a server, a client holding a connection),
        killed by cleanup: deleting a namespace does not end the processes in it."""
        namespace = vm if isinstance(vm, str) else vm.namespace
        process = subprocess.Popen(
            ["ip", "netns", "exec", namespace, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.processes.append(process)
        return process

    def name(self, role: str) -> str:
        return f"ovct-{self.tag}-{role}"

    def namespace(self, role: str) -> str:
        name = self.name(role)
        run(["ip", "netns", "add", name])
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def underlay(self, hosts: dict[str, str], extra_peer_ips: tuple[str, ...] = ()) -> str:
        """A namespace acting as the switch between hosts: each host namespace gets a veth to it with
        its underlay address; ``extra_peer_ips`` are answered by the switch itself."""
        switch = self.namespace("underlay")
        run(["ip", "-n", switch, "link", "add", "ovct-sw", "type", "bridge"])
        run(["ip", "-n", switch, "link", "set", "ovct-sw", "up"])
        for address in extra_peer_ips:
            run(["ip", "-n", switch, "addr", "add", f"{address}/{UNDERLAY_PREFIX}", "dev", "ovct-sw"])
        for index, (host, address) in enumerate(hosts.items()):
            switch_end = f"ovct-sw{index}"
            run(["ip", "-n", host, "link", "add", "ovct-uplink", "type", "veth", "peer", "name", switch_end,
                 "netns", switch])
            run(["ip", "-n", switch, "link", "set", switch_end, "master", "ovct-sw", "up"])
            run(["ip", "-n", host, "addr", "add", f"{address}/{UNDERLAY_PREFIX}", "dev", "ovct-uplink"])
            run(["ip", "-n", host, "link", "set", "ovct-uplink", "mtu", "1550", "up"])
        return switch

    def physical_interface(self, host: str, name: str = "ovct-phys") -> str:
        """A veth in ``host`` to stand for a physical NIC of a flat network (its peer in a namespace of
        its own, the "outside")."""
        outside = self.namespace(f"outside-{name[-4:]}")
        run(["ip", "-n", host, "link", "add", name, "type", "veth", "peer", "name", "ovct-out",
             "netns", outside])
        run(["ip", "-n", outside, "link", "set", "ovct-out", "up"])
        return name

    def vm(self, host: str, port: Port, prefix: int = 24, address: bool = True) -> VM:
        """A VM namespace whose eth0 (with the port's MAC, and its first fixed IP unless ``address`` is
        False, for a DHCP client) is the peer of ``port.device`` in ``host``."""
        namespace = self.namespace(f"vm-{port.id[:6]}")
        run(["ip", "-n", host, "link", "add", port.device, "type", "veth", "peer", "name", "eth0",
             "netns", namespace])
        run(["ip", "-n", namespace, "link", "set", "eth0", "address", port.mac_address, "up"])
        if address and port.fixed_ips:
            address_with_prefix = f"{port.fixed_ips[0].ip_address}/{prefix}"
            run(["ip", "-n", namespace, "addr", "add", address_with_prefix, "dev", "eth0"])
        return VM(namespace, port)

    def _pid_files(self) -> list[Path]:
        return list(self.state_dir.rglob("*.pid")) if self.state_dir.exists() else []

    def cleanup(self) -> None:
        for process in self.processes:
            process.kill()
            process.communicate()  # reaps it and closes its pipes
        for pid in self._live_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self._live_pids() and time.monotonic() < deadline:
            time.sleep(0.05)
        for name in namespaces():
            if self.tag in name:
                subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)

    def leftovers(self) -> list[str]:
        """Namespaces and live dnsmasq processes of this lab that still exist."""
        processes = [f"dnsmasq {pid}" for pid in self._live_pids()]
        return [name for name in namespaces() if self.tag in name] + processes

    def _live_pids(self) -> list[int]:
        """Processes named by the lab's pid files that still run (a zombie waiting for init is gone)."""
        live = []
        for pid_file in self._pid_files():
            pid = pid_file.read_text().strip()
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{pid}/stat").read_text() if pid.isascii() and pid.isdecimal() else ""
                if stat and stat.rsplit(")", 1)[1].split()[0] != "Z":
                    live.append(int(pid))
        return live
