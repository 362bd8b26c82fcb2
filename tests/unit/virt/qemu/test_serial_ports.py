"""Serial console ports: [serial_console] settings, allocation from the range, and the QEMU chardev."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from overcast.config import SerialConsoleSettings
from overcast.virt.driver import DriverError
from overcast.virt.qemu.launch import DiskSpec, LaunchConfig, build_qemu_command
from overcast.virt.qemu.serial_ports import SerialPorts, port_is_free

BUSY = {10001, 10003}  # ports "another process" listens on, as a probe reports them


def busy_probe(host: str, port: int) -> bool:
    return port not in BUSY


@pytest.fixture
def allocators() -> Iterator[list[SerialPorts]]:
    """Allocators made by a test; their ports are given back afterwards (holdings are process-wide)."""
    made: list[SerialPorts] = []
    yield made
    for allocator in made:
        allocator.release_all()


def new_ports(allocators: list[SerialPorts], port_range: str = "10000:10005") -> SerialPorts:
    allocator = SerialPorts(SerialConsoleSettings(port_range=port_range), probe=busy_probe)
    allocators.append(allocator)
    return allocator


def test_settings_default_to_unix_sockets_and_tcp_binds_the_proxy_address() -> None:
    settings = SerialConsoleSettings()
    assert settings.ports is None  # unix sockets unless a remote proxy needs TCP
    tcp = SerialConsoleSettings(port_range="10000:20000", proxyclient_address="192.0.2.7")
    assert tcp.ports == range(10000, 20001) and tcp.listen_address == "192.0.2.7"
    assert SerialPorts(tcp).listen == "192.0.2.7"
    assert SerialConsoleSettings(port_range="10000:10001", listen="192.0.2.8").listen_address == "192.0.2.8"
    for bad in ("10000", "a:b", "20000:10000", "0:10", "1:70000"):
        with pytest.raises(ValidationError):
            SerialConsoleSettings(port_range=bad)
    for wildcard in ("0.0.0.0", "::", "[::]"):  # every network would reach the consoles
        with pytest.raises(ValidationError):
            SerialConsoleSettings(port_range="10000:10001", listen=wildcard)


def test_ports_are_taken_lowest_first_skipping_busy_ones(allocators: list[SerialPorts]) -> None:
    ports = new_ports(allocators)
    assert [ports.acquire() for _ in range(4)] == [10000, 10002, 10004, 10005]
    with pytest.raises(DriverError, match="No free serial console port"):
        ports.acquire()
    ports.release(10002)
    assert ports.acquire() == 10002


def test_two_drivers_in_one_process_never_share_a_port(allocators: list[SerialPorts]) -> None:
    first, second = new_ports(allocators, "10000:10007"), new_ports(allocators, "10000:10007")
    taken = [first.acquire(), second.acquire(), first.acquire(), second.acquire()]
    assert taken == [10000, 10002, 10004, 10005]
    second.release(10000)  # first's port: not second's to give back
    assert second.acquire() == 10006


def test_a_kept_port_is_not_handed_out_and_a_fresh_one_avoids_the_lost_one(
    allocators: list[SerialPorts],
) -> None:
    restarted = new_ports(allocators)
    restarted.keep(10000)  # a VM found on disk with this port in its record
    assert restarted.acquire() == 10002
    restarted.release(10000)
    assert restarted.acquire(avoid=10000) == 10004  # the port QEMU could not bind is not retried


def test_release_all_frees_only_the_drivers_own_ports(allocators: list[SerialPorts]) -> None:
    old, new = new_ports(allocators), new_ports(allocators)
    old.keep(10000)
    new.keep(10000)  # the new driver of a restarted compute service took the VM over
    old.keep(10002)
    old.release_all()
    assert new.acquire() == 10002  # old's own port is free again; 10000 stays new's


def test_the_probe_sees_a_real_listener() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not port_is_free("127.0.0.1", port)
        ports = SerialPorts(SerialConsoleSettings(port_range=f"{port}:{port}"))
        with pytest.raises(DriverError):
            ports.acquire()
    assert port_is_free("127.0.0.1", port)


def test_unix_mode_has_no_ports() -> None:
    ports = SerialPorts(SerialConsoleSettings(port_range=""))
    assert not ports.enabled
    with pytest.raises(DriverError):
        ports.acquire()


def _config(serial_tcp: tuple[str, int] | None) -> LaunchConfig:
    return LaunchConfig(uuid="u-1", name="vm", vcpus=1, memory_mb=128, accelerator="tcg", cpu="max",
                        disks=[DiskSpec("disk.qcow2", boot=True)], serial_tcp=serial_tcp)  # fmt: skip


def test_qemu_listens_on_tcp_or_the_unix_socket_and_logs_either_way() -> None:
    tcp = build_qemu_command(_config(("127.0.0.1", 10007)))
    chardev = tcp[tcp.index("-chardev") + 1]
    assert chardev == (
        "socket,id=console,host=127.0.0.1,port=10007,telnet=off,server=on,wait=off,"
        "logfile=console.log,logappend=on"
    )
    unix = build_qemu_command(_config(None))
    assert unix[unix.index("-chardev") + 1].startswith("socket,id=console,path=serial.sock,server=on")


def test_a_guest_panic_is_reported_and_held() -> None:
    args = build_qemu_command(_config(None))
    devices = [args[i + 1] for i, arg in enumerate(args) if arg == "-device"]
    assert "pvpanic-pci" in devices
    assert args[args.index("-action") + 1] == "panic=pause"
