"""TCP ports for the VMs' serial consoles on this host, from [serial_console] port_range (as in Nova).

Only a multi-host cloud sets port_range (its API's console proxy is on another host); otherwise serial
ports are unix sockets in the instance folders and nothing here is used. A TCP port listens on one
address (`listen`, or the proxy's `proxyclient_address`), never a wildcard, and anyone who reaches it
reaches the console: it belongs on a network only the API hosts reach.

A VM keeps its port for its whole life: the port is stored in its instance.json and claimed again when
a restarted driver finds the VM, so a console keeps its address across reboots, stop/start and compute
restarts. Ports are held process-wide, because several drivers may share one process (tests, the
multi-host benchmarks) and one machine; a port another process listens on is skipped by a bind probe,
and a QEMU that still loses the race gets a fresh port when its launch is retried.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable

from overcast.config import SerialConsoleSettings
from overcast.virt.driver import DriverError

PortProbe = Callable[[str, int], bool]

_holders: dict[int, SerialPorts] = {}  # port -> the driver's allocator holding it
_held_lock = threading.Lock()


def port_is_free(host: str, port: int) -> bool:
    """Can a listener bind `host:port` now?"""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class SerialPorts:
    """Hands out the serial console ports of one driver's VMs; None from `acquire` means unix sockets."""

    def __init__(self, settings: SerialConsoleSettings, probe: PortProbe = port_is_free) -> None:
        self.listen = settings.listen_address
        self.proxyclient_address = settings.proxyclient_address
        self.ports = settings.ports
        self._probe = probe

    @property
    def enabled(self) -> bool:
        return self.ports is not None

    def keep(self, port: int) -> None:
        """Hold the stored port of a VM this driver found on disk (it may be listening on it already)."""
        with _held_lock:
            _holders[port] = self

    def acquire(self, avoid: int | None = None) -> int:
        """The lowest port of the range that nobody holds and that can be bound (never `avoid`)."""
        if self.ports is None:
            raise DriverError("Serial consoles are unix sockets here: [serial_console] port_range is empty.")
        with _held_lock:
            for port in self.ports:
                if port in _holders or port == avoid or not self._probe(self.listen, port):
                    continue
                _holders[port] = self
                return port
        raise DriverError(f"No free serial console port in {self.ports.start}:{self.ports.stop - 1}.")

    def release(self, port: int | None) -> None:
        if port is None:
            return
        with _held_lock:
            if _holders.get(port) is self:
                del _holders[port]

    def release_all(self) -> None:
        """Let go of every port (the driver shuts down; a new driver claims them again from the records)."""
        with _held_lock:
            for port in [port for port, holder in _holders.items() if holder is self]:
                del _holders[port]
