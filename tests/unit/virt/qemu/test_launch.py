"""The QEMU command line and the per-VM files it names."""

from __future__ import annotations

import os
import socket

from overcast.virt.qemu.launch import (
    HOTPLUG_PORTS,
    DiskSpec,
    LaunchConfig,
    build_qemu_command,
    free_port,
    pid_alive,
)

UUID = "0b7c2f39-5d0e-4a55-8d0a-6d6b3c1f2a11"


def _config(**overrides: object) -> LaunchConfig:
    values: dict[str, object] = dict(
        uuid=UUID, name="web-1", vcpus=2, memory_mb=512, accelerator="tcg", cpu="max",
        disks=[DiskSpec("disk.qcow2", boot=True), DiskSpec("disk.config", format="raw", readonly=True)],
        ssh_port=40022, mac_address="fa:16:3e:00:00:01",
    )  # fmt: skip
    values.update(overrides)
    return LaunchConfig(**values)  # type: ignore[arg-type]


def _option(args: list[str], flag: str) -> list[str]:
    return [args[i + 1] for i, arg in enumerate(args) if arg == flag]


def test_machine_accelerator_cpu_and_size() -> None:
    args = build_qemu_command(_config(accelerator="kvm", cpu="host"), qemu="/usr/bin/qemu-system-x86_64")
    assert args[0] == "/usr/bin/qemu-system-x86_64"
    assert _option(args, "-accel") == ["kvm"] and _option(args, "-cpu") == ["host"]
    assert _option(args, "-smp") == ["2"] and _option(args, "-m") == ["512"]
    assert _option(args, "-machine") == ["q35"] and _option(args, "-uuid") == [UUID]
    assert "-nodefaults" in args and _option(args, "-display") == ["none"]


def test_disks_are_virtio_with_the_boot_disk_first_in_boot_order() -> None:
    args = build_qemu_command(_config())
    drives, devices = _option(args, "-drive"), _option(args, "-device")
    assert drives[0].startswith("file=disk.qcow2,") and "format=qcow2" in drives[0]
    assert (
        drives[1].startswith("file=disk.config,") and "readonly=on" in drives[1] and "format=raw" in drives[1]
    )
    assert devices[0] == "virtio-blk-pci,drive=disk0,bootindex=1"
    assert devices[1] == "virtio-blk-pci,drive=disk1"


def test_ssh_is_forwarded_from_loopback_only() -> None:
    args = build_qemu_command(_config())
    assert _option(args, "-netdev") == ["user,id=net0,hostfwd=tcp:127.0.0.1:40022-:22"]
    nic = next(d for d in _option(args, "-device") if d.startswith("virtio-net-pci"))
    assert "mac=fa:16:3e:00:00:01" in nic and "romfile=" in nic
    no_forward = build_qemu_command(_config(ssh_port=None))
    assert _option(no_forward, "-netdev") == ["user,id=net0"]


def test_console_qmp_and_pidfile_live_in_the_instance_folder() -> None:
    args = build_qemu_command(_config())
    # An interactive serial socket whose output QEMU also appends to the console log.
    assert _option(args, "-chardev") == [
        "socket,id=console,path=serial.sock,server=on,wait=off,logfile=console.log,logappend=on"
    ]
    assert _option(args, "-serial") == ["chardev:console"]
    assert _option(args, "-qmp") == ["unix:qmp.sock,server=on,wait=off"]
    assert _option(args, "-pidfile") == ["qemu.pid"]
    assert "-daemonize" not in args  # exec: migrations (suspend) fail in a daemonized QEMU 7.2
    assert f"guest=web-1,process=overcast-{UUID}" in _option(args, "-name")


def test_resume_reads_the_state_file() -> None:
    args = build_qemu_command(_config(incoming="/data/instances/x/state.suspend"))
    assert _option(args, "-incoming") == ["exec:cat /data/instances/x/state.suspend"]
    assert "-incoming" not in build_qemu_command(_config())


def test_pid_alive_checks_the_process_is_this_instances_qemu() -> None:
    assert not pid_alive(None, UUID)
    assert not pid_alive(os.getpid(), UUID)  # alive, but not a QEMU of this instance
    assert not pid_alive(2**22 + 1, UUID)


def test_free_port_is_bindable_and_skips_reserved_ones() -> None:
    reserved: set[int] = set()
    for _ in range(5):
        port = free_port(reserved)
        assert port not in reserved
        reserved.add(port)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_vifs_on_taps_replace_user_mode_networking() -> None:
    taps = (
        ("1a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d", "ovt-1a2b3c4d-5e", "fa:16:3e:00:00:0a"),
        ("9f8e7d6c-5b4a-4f3e-8d2c-1b0a9f8e7d6c", "ovt-9f8e7d6c-5b", "fa:16:3e:00:00:0b"),
    )
    args = build_qemu_command(_config(taps=taps))
    assert _option(args, "-netdev") == [
        "tap,id=tap-1a2b3c4d5e6f,ifname=ovt-1a2b3c4d-5e,script=no,downscript=no",
        "tap,id=tap-9f8e7d6c5b4a,ifname=ovt-9f8e7d6c-5b,script=no,downscript=no",
    ]
    devices = _option(args, "-device")
    nics = [d for d in devices if d.startswith("virtio-net-pci")]
    assert nics == [
        "virtio-net-pci,netdev=tap-1a2b3c4d5e6f,id=nic-1a2b3c4d5e6f,romfile=,mac=fa:16:3e:00:00:0a,"
        "bus=port-nic-1a2b3c4d5e6f",
        "virtio-net-pci,netdev=tap-9f8e7d6c5b4a,id=nic-9f8e7d6c5b4a,romfile=,mac=fa:16:3e:00:00:0b,"
        "bus=port-nic-9f8e7d6c5b4a",
    ]
    # Every NIC on a root port of its own (unpluggable), and empty ones for NICs plugged later.
    ports = [d for d in devices if d.startswith("pcie-root-port")]
    assert len(ports) == 2 + HOTPLUG_PORTS and len({p.split("chassis=")[1] for p in ports}) == len(ports)
    assert "hostfwd" not in " ".join(args)


def test_direct_kernel_boot_names_kernel_initrd_and_arguments_and_no_boot_disk() -> None:
    args = build_qemu_command(_config(kernel="kernel", initrd="ramdisk", append="root=LABEL=r console=ttyS0"))
    assert _option(args, "-kernel") == ["kernel"] and _option(args, "-initrd") == ["ramdisk"]
    assert _option(args, "-append") == ["root=LABEL=r console=ttyS0"]
    # The kernel is what boots: no disk claims a boot index the firmware would try first.
    assert not any("bootindex" in device for device in _option(args, "-device"))


def test_a_kernel_without_ramdisk_has_no_initrd_and_a_disk_boot_has_neither() -> None:
    args = build_qemu_command(_config(kernel="kernel", append="root=/dev/vda"))
    assert _option(args, "-kernel") == ["kernel"] and _option(args, "-initrd") == []
    disk_boot = build_qemu_command(_config())
    assert _option(disk_boot, "-kernel") == [] and _option(disk_boot, "-append") == []
    assert "virtio-blk-pci,drive=disk0,bootindex=1" in _option(disk_boot, "-device")
