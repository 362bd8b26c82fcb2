"""A VM's iSCSI volumes without a QEMU: the boot command line (secrets kept off it, throttle groups from
QoS, boot order), and the QMP conversations of hot-plug, unplug, resize and swap, with a runtime we own
that records every command and a QMP stand-in that delivers the events the guest would send."""

from __future__ import annotations

import json
import stat
import uuid as uuidlib
from pathlib import Path
from typing import Any

import pytest

from overcast.virt.driver import DriverError, ImageRef, InstanceSpec, VolumeDevice, iscsi_initiator_name
from overcast.virt.qemu import volumes
from overcast.virt.qemu.instance import VM, InstanceRecord

VOLUME = "0f8c2b6e-5a1d-4c3e-9b7f-1a2b3c4d5e6f"
OTHER = "7d9e1f20-3b4c-4d5e-8f60-718293a4b5c6"
PASSWORD = "s3cret-chap-password"


def iscsi(volume_id: str, *, qos: dict[str, str] | None = None, chap: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "target_portal": "127.0.0.1:3260", "target_iqn": f"iqn.2010-10.org.overcast:{volume_id}",
        "target_lun": 1, "volume_id": volume_id, "access_mode": "rw", "encrypted": False, "qos_specs": qos,
    }  # fmt: skip
    if chap:
        data.update(auth_method="CHAP", auth_username="user-1", auth_password=PASSWORD)
    return {"driver_volume_type": "iscsi", "data": data}


class RecordingRuntime:
    """Stands in for runtime.Runtime: records QMP commands; `refuse` makes one command fail."""

    def __init__(self, alive: bool = True) -> None:
        self.running = alive
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.refuse: str | None = None

    def alive(self, vm: VM) -> bool:
        return self.running

    def execute(
        self, vm: VM, command: str, arguments: dict[str, Any] | None = None, timeout: float = 30
    ) -> Any:
        self.commands.append((command, dict(arguments or {})))
        if command == self.refuse:
            raise DriverError(f"QEMU refused {command}")
        return {}

    def names(self) -> list[str]:
        return [command for command, _ in self.commands]


class GuestEvents:
    """The QMP client's event side: the events the guest (and QEMU) will send."""

    def __init__(self, *events: str) -> None:
        self.events = set(events)

    def event_mark(self) -> int:
        return 0

    def wait_event(self, name: str, timeout: float, after: int | None = None) -> dict[str, Any] | None:
        return {"event": name} if name in self.events else None


def make_vm(tmp_path: Path, events: GuestEvents | None = None, **spec: Any) -> VM:
    uuid = str(uuidlib.uuid4())
    instance = InstanceSpec(uuid=uuid, name="vm", hostname="vm", vcpus=1, memory_mb=64, root_gb=1,
                            image=ImageRef(id="img-1"), **spec)  # fmt: skip
    folder = tmp_path / uuid
    folder.mkdir()
    vm = VM(uuid=uuid, folder=folder, record=InstanceRecord(spec=instance.to_dict()), pid=4242)
    vm.qmp = events  # type: ignore[assignment]  # only event_mark and wait_event are used
    return vm


def test_boot_args_keep_the_password_off_the_command_line_and_throttle_by_qos(tmp_path: Path) -> None:
    qos = {"total_bytes_sec": "1048576", "read_iops_sec": "100", "write_iops_sec": "0"}
    info = [{"volume_id": VOLUME, "connection_info": iscsi(VOLUME, qos=qos), "mountpoint": "/dev/vda",
             "boot_index": 0}]  # fmt: skip

    args = volumes.boot_args(tmp_path, info, "Compute_1.example")

    assert PASSWORD not in " ".join(args)
    secret = tmp_path / "sec-0f8c2b6e5a1d.key"
    assert secret.read_text() == PASSWORD and stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert "secret,id=sec-0f8c2b6e5a1d,file=sec-0f8c2b6e5a1d.key,format=raw" in args
    documents = [json.loads(arg) for arg in args if arg.startswith("{")]
    group, protocol, throttle, disk = documents
    assert group == {"qom-type": "throttle-group", "id": "tg-0f8c2b6e5a1d",
                     "limits": {"bps-total": 1048576, "iops-read": 100}}  # fmt: skip
    assert (
        protocol["driver"] == "iscsi"
        and protocol["lun"] == 1
        and protocol["password-secret"] == "sec-0f8c2b6e5a1d"
    )
    assert (
        protocol["initiator-name"]
        == iscsi_initiator_name("Compute_1.example")
        == ("iqn.2010-10.org.overcast:host:compute-1.example")
    )
    assert throttle["file"] == protocol["node-name"] and throttle["throttle-group"] == group["id"]
    assert disk["drive"] == throttle["node-name"] and disk["serial"] == VOLUME[:20] and disk["bootindex"] == 1
    hotplug_ports = [arg for arg in args if arg.startswith("pcie-root-port,id=volport")]
    assert len(hotplug_ports) == volumes.HOTPLUG_PORTS


def test_a_rescued_vm_boots_its_rescue_disk_not_its_root_volume(tmp_path: Path) -> None:
    info = [
        {"volume_id": VOLUME, "connection_info": iscsi(VOLUME), "mountpoint": "/dev/vda", "boot_index": 0}
    ]
    for rescued, bootindex in ((False, 1), (True, None)):
        args = volumes.boot_args(tmp_path, info, "compute-1", rescued=rescued)
        disk = next(json.loads(arg) for arg in args if arg.startswith('{"driver": "virtio-blk-pci"'))
        assert disk.get("bootindex") == bootindex


def test_flavor_quota_extra_specs_throttle_the_root_drive() -> None:
    specs = {"quota:disk_read_bytes_sec": "2048", "quota:disk_total_iops_sec": "50",
             "quota:disk_write_bytes_sec": "nope", "hw:cpu_policy": "dedicated"}  # fmt: skip
    assert volumes.drive_throttling(specs) == ",throttling.bps-read=2048,throttling.iops-total=50"
    assert volumes.drive_throttling({}) == ""


def test_hot_plug_builds_the_chain_on_free_ports_and_records_it(tmp_path: Path) -> None:
    runtime, vm = RecordingRuntime(), make_vm(tmp_path)

    volumes.plug(runtime, vm, "host-1", iscsi(VOLUME), VolumeDevice(VOLUME, "/dev/vdb"))
    volumes.plug(runtime, vm, "host-1", iscsi(OTHER, chap=False), VolumeDevice(OTHER, "/dev/vdc"))

    assert runtime.names() == ["object-add", "object-add", "blockdev-add", "blockdev-add", "device_add",
                               "object-add", "blockdev-add", "blockdev-add", "device_add"]  # fmt: skip
    assert runtime.commands[0][1]["data"] == PASSWORD  # over the VM's private QMP socket only
    buses = [arguments["bus"] for command, arguments in runtime.commands if command == "device_add"]
    assert buses == ["volport0", "volport1"]
    recorded = InstanceRecord.load(vm.folder).instance_spec.block_device_info
    assert [(v["volume_id"], v["mountpoint"], v["bus"]) for v in recorded] == [
        (VOLUME, "/dev/vdb", "volport0"), (OTHER, "/dev/vdc", "volport1"),
    ]  # fmt: skip
    with pytest.raises(DriverError, match="already has volume"):
        volumes.plug(runtime, vm, "host-1", iscsi(VOLUME), VolumeDevice(VOLUME, "/dev/vdd"))


def test_a_refused_device_add_removes_what_was_added(tmp_path: Path) -> None:
    runtime, vm = RecordingRuntime(), make_vm(tmp_path)
    runtime.refuse = "device_add"

    with pytest.raises(DriverError):
        volumes.plug(runtime, vm, "host-1", iscsi(VOLUME), VolumeDevice(VOLUME, "/dev/vdb"))

    assert runtime.names()[5:] == ["blockdev-del", "blockdev-del", "object-del", "object-del"]
    assert [arguments for _, arguments in runtime.commands[5:7]] == [
        {"node-name": "thr-0f8c2b6e5a1d"}, {"node-name": "vol-0f8c2b6e5a1d"},
    ]  # fmt: skip
    assert vm.record.spec["block_device_info"] == []


def test_a_stopped_vm_only_has_its_spec_changed_and_non_iscsi_is_refused(tmp_path: Path) -> None:
    runtime, vm = RecordingRuntime(alive=False), make_vm(tmp_path)
    volumes.plug(runtime, vm, "host-1", iscsi(VOLUME), VolumeDevice(VOLUME, "/dev/vdb"))
    assert runtime.commands == [] and volumes.volume_ids(vm) == [VOLUME]
    fake = {"driver_volume_type": "fake", "data": {"volume_id": OTHER}}
    with pytest.raises(DriverError, match="only iscsi"):
        volumes.plug(runtime, vm, "host-1", fake, VolumeDevice(OTHER, "/dev/vdc"))


def test_unplug_waits_for_the_guest_then_removes_the_nodes(tmp_path: Path) -> None:
    runtime = RecordingRuntime()
    vm = make_vm(tmp_path, GuestEvents())
    volumes.plug(runtime, vm, "host-1", iscsi(VOLUME), VolumeDevice(VOLUME, "/dev/vdb"))
    runtime.commands.clear()

    with pytest.raises(DriverError, match="did not release"):
        volumes.unplug(runtime, vm, VOLUME, timeout=0.01)  # the guest holds on to the disk
    assert runtime.names() == ["device_del"] and volumes.volume_ids(vm) == [VOLUME]

    vm.qmp = GuestEvents("DEVICE_DELETED")  # type: ignore[assignment]
    runtime.commands.clear()
    volumes.unplug(runtime, vm, VOLUME)
    assert runtime.names() == ["device_del", "blockdev-del", "blockdev-del", "object-del", "object-del"]
    assert volumes.volume_ids(vm) == []
    volumes.unplug(runtime, vm, VOLUME)  # one it does not have: nothing to do
    assert len(runtime.commands) == 5


def test_extend_resizes_the_node_the_disk_reads(tmp_path: Path) -> None:
    runtime, vm = RecordingRuntime(), make_vm(tmp_path)
    volumes.plug(runtime, vm, "host-1", iscsi(VOLUME), VolumeDevice(VOLUME, "/dev/vdb"))
    volumes.resize(runtime, vm, VOLUME, 2 * 1024**3)
    assert runtime.commands[-1] == ("block_resize", {"node-name": "thr-0f8c2b6e5a1d", "size": 2 * 1024**3})
    with pytest.raises(DriverError):
        volumes.resize(runtime, vm, OTHER, 1)


def test_swap_mirrors_then_pivots_and_the_disk_keeps_its_device(tmp_path: Path) -> None:
    runtime = RecordingRuntime()
    vm = make_vm(tmp_path, GuestEvents("BLOCK_JOB_READY", "BLOCK_JOB_COMPLETED", "DEVICE_DELETED"))
    volumes.plug(runtime, vm, "host-1", iscsi(VOLUME), VolumeDevice(VOLUME, "/dev/vdb"))
    runtime.commands.clear()

    volumes.swap(runtime, vm, "host-1", VOLUME, iscsi(OTHER), VolumeDevice(OTHER, "/dev/vdb"))

    mirror = dict(runtime.commands)["blockdev-mirror"]
    assert mirror == {"job-id": "swap-vol-7d9e1f203b4c", "device": "thr-0f8c2b6e5a1d",
                      "target": "thr-7d9e1f203b4c", "sync": "full"}  # fmt: skip
    assert runtime.names()[-5:] == [
        "block-job-complete",
        "blockdev-del",
        "blockdev-del",
        "object-del",
        "object-del",
    ]
    (recorded,) = vm.record.spec["block_device_info"]
    assert (recorded["volume_id"], recorded["mountpoint"], recorded["disk"]) == (
        OTHER,
        "/dev/vdb",
        "vdisk-0f8c2b6e5a1d",
    )
    runtime.commands.clear()
    volumes.unplug(runtime, vm, OTHER)
    assert runtime.commands[0] == ("device_del", {"id": "vdisk-0f8c2b6e5a1d"})
