"""The QEMU driver: real VMs, one daemonized qemu-system-x86_64 per instance (KVM when it works, else TCG).

Networking is QEMU user-mode networking: the guest gets 10.0.2.15 by DHCP and its SSH port is
forwarded from a free port on 127.0.0.1 (`get_instance_network`). Metadata reaches the guest on a
config drive. Every action runs under the VM's lock; lifecycle events the hypervisor notices on its
own (the guest powered off, QEMU died) come from QMP events and process checks.

The driver is composed of parts with their own files: `Runtime` (the QEMU processes), `HostVMs` (this
host's VMs, their locks and events), `ImageCache` (the bases of their disks), `ConfigDrives` and
`ColdResize` (both ends of a cold resize or migration), to which it hands those moves.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any, ClassVar

from overcast.config import DEFAULT_AVAILABILITY_ZONE, SerialConsoleSettings, Settings, load_settings
from overcast.context import RequestContext
from overcast.virt import hardware
from overcast.virt.driver import (
    ComputeDriver,
    DriverError,
    HostResources,
    ImageRef,
    InstanceActionInvalid,
    InstanceInfo,
    InstanceNotFound,
    InstanceSpec,
    PowerState,
    RebootType,
    SnapshotUpload,
    VolumeDevice,
)
from overcast.virt.qemu import configdrive, console, diagnostics, disks, kernel_boot, launch, nics, volumes
from overcast.virt.qemu.accel import Accelerator, detect_accelerator, qemu_version_string
from overcast.virt.qemu.instance import (
    CONFIG_DRIVE,
    RECORD_FILE,
    RESCUE_DISK,
    ROOT_DISK,
    SUSPEND_STATE,
    VM,
    InstanceRecord,
)
from overcast.virt.qemu.kernel_boot import KernelBoot
from overcast.virt.qemu.resize import ColdResize, is_set_aside
from overcast.virt.qemu.runtime import Runtime, run_dispatcher, tap_vifs
from overcast.virt.qemu.serial_ports import SerialPorts
from overcast.virt.qemu.vms import HostVMs

LOG = logging.getLogger(__name__)
_ACTIVE = (PowerState.RUNNING, PowerState.PAUSED, PowerState.SUSPENDED)
GUEST_ADDRESS = "10.0.2.15"  # what QEMU's user-mode DHCP gives the first guest NIC


class QemuDriver(ComputeDriver):
    capabilities: ClassVar[dict[str, bool]] = {
        **ComputeDriver.capabilities,
        "supports_pause": True,
        "supports_suspend": True,
        "supports_rescue": True,
        "supports_snapshot": True,
        "supports_resize": True,
        "supports_console_output": True,
    }
    needs_image_files: ClassVar[bool] = True

    def __init__(
        self,
        data_dir: Path | str | None = None,
        *,
        settings: Settings | None = None,
        qemu_binary: str = "qemu-system-x86_64",
        accelerator: str | None = None,
        boot_timeout: float = 0.0,
        soft_reboot_timeout: float = 60.0,
        config_drive_format: configdrive.DriveFormat = "iso9660",
        force_config_drive: bool = True,
        availability_zone: str = DEFAULT_AVAILABILITY_ZONE,
        serial_console: SerialConsoleSettings | None = None,
    ) -> None:
        """`boot_timeout` > 0 makes spawn/power_on/reboot/unrescue wait for the guest's READY line;
        `serial_console` (default: the settings' [serial_console]) is where the serial ports listen;
        without `force_config_drive`, a VM gets a config drive only if its server or image asks for one."""
        super().__init__()
        if data_dir is None:
            settings = settings or load_settings()
            data_dir = settings.data_dir
        if serial_console is None:
            serial_console = settings.serial_console if settings else SerialConsoleSettings()
        self.data_dir = Path(data_dir).absolute()
        self.instances_dir = self.data_dir / "instances"
        self.qemu_binary = qemu_binary
        self.soft_reboot_timeout = soft_reboot_timeout
        self.images = disks.ImageCache(self.instances_dir / "_base")
        self._forced_accelerator = accelerator
        self._config_drives = configdrive.ConfigDrives(
            availability_zone, config_drive_format, force=force_config_drive
        )
        self._runtime = Runtime(qemu_binary, _forced(accelerator), set(), threading.Lock(),
                                SerialPorts(serial_console), boot_timeout=boot_timeout)  # fmt: skip
        self._vms = HostVMs(self.instances_dir, self.images, self._runtime, self.emit_event)
        self._resize = ColdResize(self._vms, self._runtime, self.images, self._config_drives)
        self._dispatcher = threading.Thread(
            target=run_dispatcher,
            args=(self._runtime.notices, self._vms.notice, self._vms.running),
            daemon=True,
            name="qemu-driver-events",
        )
        self._dispatcher.start()

    @property
    def host(self) -> str | None:
        """The compute host this driver serves (init_host names it)."""
        return self._vms.host

    @property
    def accelerator(self) -> Accelerator:
        return self._runtime.accelerator

    # --- host -------------------------------------------------------------------------------------
    def init_host(self, host: str) -> None:
        """Pick the accelerator and re-attach to the VMs (and QEMU processes) this host already has."""
        self._vms.host = host
        self._runtime.host = host
        if self._forced_accelerator is None:
            self._runtime.accelerator = detect_accelerator(self.data_dir, qemu=self.qemu_binary)
        LOG.info("QEMU driver on %s uses %s (%s)", host, self.accelerator.name, self.accelerator.reason)
        self.instances_dir.mkdir(mode=launch.INSTANCE_DIR_MODE, parents=True, exist_ok=True)
        for folder in sorted(self.instances_dir.iterdir()):
            known = self._vms.find(folder.name) is not None
            if known or is_set_aside(folder) or not (folder / RECORD_FILE).is_file():
                continue  # a folder set aside by a resize waits for its confirm or revert
            vm = VM(uuid=folder.name, folder=folder, record=InstanceRecord.load(folder))
            if vm.record.serial_port is not None and self._runtime.serial_ports is not None:
                self._runtime.serial_ports.keep(vm.record.serial_port)
            with vm.lock:
                if self._runtime.attach(vm):
                    vm.state = PowerState.RUNNING
                else:
                    suspended = vm.record.suspended and vm.path(SUSPEND_STATE).exists()
                    vm.state = PowerState.SUSPENDED if suspended else PowerState.SHUTDOWN
                self._runtime.refresh(vm)
                vm.pending_events.clear()  # the manager syncs states after init_host; no replayed events
            self._vms.add(vm, new_folder=False)

    def shutdown(self) -> None:
        """Let go of the VMs without stopping them (a compute worker restarting)."""
        self._runtime.notices.put(None)
        if self._runtime.serial_ports is not None:
            self._runtime.serial_ports.release_all()
        for vm in self._vms.forget_all():
            with vm.lock:
                if vm.qmp is not None:
                    vm.qmp.close()
                    vm.qmp = None

    def get_available_resource(self) -> HostResources:
        found = hardware.detect_host_hardware(str(self.data_dir if self.data_dir.exists() else "/"))
        return HostResources(
            # Nova's libvirt driver says QEMU for TCG; KVM only when the probe VM really ran under it.
            hypervisor_type="KVM" if self.accelerator.name == "kvm" else "QEMU",
            hypervisor_version=_encoded_version(qemu_version_string(self.qemu_binary)),
            hypervisor_hostname=self.host or "localhost",
            cpu_arch=found.cpu_arch,
            cpu_model=found.cpu_model,
            cpu_features=list(found.cpu_features),
            vcpus=found.vcpus,
            memory_mb=found.memory_mb,
            local_gb=found.local_gb,
            devices=list(found.devices),
            accelerator=self.accelerator.name,
        )

    def list_instance_uuids(self) -> list[str]:
        return self._vms.uuids()

    def get_instance_network(self, uuid: str) -> dict[str, Any] | None:
        """How to reach the guest: user-mode NAT, SSH forwarded from 127.0.0.1:<ssh_port>; None when
        its NICs are on taps (its ports' networks say how to reach it)."""
        vm = self._vms.get(uuid)
        if tap_vifs(vm.spec.network_info):
            return None
        return {
            "mode": "user",
            "guest_ip": GUEST_ADDRESS,
            "ssh_host": "127.0.0.1",
            "ssh_port": vm.record.ssh_port,
            "mac_address": next((v.get("address") for v in vm.spec.network_info if v.get("address")), None),
        }

    # --- build and delete -------------------------------------------------------------------------
    def spawn(self, ctxt: RequestContext, spec: InstanceSpec, admin_password: str | None = None) -> None:
        if spec.vcpus < 1 or spec.memory_mb < 16:
            raise DriverError(f"Cannot spawn {spec.uuid}: a VM needs at least 1 vcpu and 16 MB of memory.")
        folder = self.instances_dir / spec.uuid
        vm = VM(uuid=spec.uuid, folder=folder, record=InstanceRecord(spec=spec.to_dict()))
        self._vms.add(vm, new_folder=True)
        offset = 0
        try:
            with vm.lock:
                folder.mkdir(mode=launch.INSTANCE_DIR_MODE, parents=True)  # its disk and config drive
                if not any(volume.get("boot_index") == 0 for volume in spec.block_device_info):
                    base = self.images.fetch(spec.image)
                    disks.create_overlay(base, vm.path(ROOT_DISK), spec.root_gb * disks.GiB)
                    boot = kernel_boot.install(spec.image, folder)
                    vm.record.kernel_boot = boot.to_record() if boot else None
                self._config_drives.write(spec, vm.path(CONFIG_DRIVE), admin_password=admin_password)
                vm.record.vifs = {str(v["id"]): dict(v) for v in spec.network_info if "id" in v}
                vm.save()
                offset = self._runtime.start(vm)
                vm.state = PowerState.SHUTDOWN  # built; the launch makes it RUNNING ("started")
                self._runtime.set_state(vm, PowerState.RUNNING)
            self._vms.flush(vm)
            self._runtime.wait_ready(vm, offset)
        except BaseException as exc:
            LOG.warning("Spawning %s failed: %s", spec.uuid, exc)
            self._vms.remove(vm)
            if isinstance(exc, DriverError | InstanceNotFound):
                raise
            raise DriverError(f"Cannot spawn {spec.uuid}: {exc}") from exc

    def destroy(self, ctxt: RequestContext, uuid: str, destroy_disks: bool = True) -> None:
        if destroy_disks:
            self.confirm_migration(ctxt, uuid)  # a server deleted while resized loses its old disks too
        vm = self._vms.find(uuid)
        if vm is None:
            folder = self.instances_dir / uuid
            if destroy_disks and folder.is_dir() and not (folder / RECORD_FILE).exists():
                shutil.rmtree(folder, ignore_errors=True)  # left by destroy(destroy_disks=False)
            return
        with vm.lock:
            was_active = self._runtime.refresh(vm) in _ACTIVE
            vm.pending_events.clear()
            self._runtime.stop(vm)
            if was_active:
                vm.pending_events.append("stopped")
            if destroy_disks:
                self._vms.remove(vm)
            else:
                (vm.folder / RECORD_FILE).rename(vm.folder / f"{RECORD_FILE}.destroyed")
                self._vms.forget(uuid)
        self._vms.flush(vm)

    # --- power ------------------------------------------------------------------------------------
    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: RebootType) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            state = self._runtime.refresh(vm)
            offset = console.console_size(vm.path(launch.CONSOLE_FILE))
            soft_done = False
            if reboot_type == "SOFT" and state == PowerState.RUNNING and vm.qmp is not None:
                mark = vm.qmp.event_mark()
                self._runtime.send_ctrl_alt_del(vm)
                soft_done = vm.qmp.wait_event("RESET", self.soft_reboot_timeout, after=mark) is not None
                if not soft_done:
                    LOG.info("Guest %s ignored the soft reboot; resetting it", uuid)
            if not soft_done:
                if state in (PowerState.RUNNING, PowerState.PAUSED) and self._runtime.alive(vm):
                    self._runtime.execute(vm, "system_reset")
                    if self._runtime.status(vm) != "running":
                        self._runtime.execute(vm, "cont")
                else:
                    self._runtime.stop(vm)
                    vm.discard_saved_state()
                    offset = self._runtime.start(vm)
            self._runtime.set_state(vm, PowerState.RUNNING)
            if state in (PowerState.PAUSED, PowerState.SUSPENDED):
                vm.pending_events[-1:] = ["started"]  # a reboot is a new boot, not an unpause
        self._runtime.wait_ready(vm, offset)

    def power_off(self, ctxt: RequestContext, uuid: str, timeout: int = 0) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            state = self._runtime.refresh(vm)
            if state in (PowerState.SHUTDOWN, PowerState.CRASHED):
                return
            self._runtime.stop(vm, graceful_timeout=timeout)
            vm.discard_saved_state()
            self._runtime.set_state(vm, PowerState.SHUTDOWN)

    def power_on(self, ctxt: RequestContext, uuid: str) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            if self._runtime.refresh(vm) == PowerState.RUNNING:
                return
            self._require(vm, "power on", PowerState.SHUTDOWN, PowerState.CRASHED)
            offset = self._runtime.start(vm)
            self._runtime.set_state(vm, PowerState.RUNNING)
        self._runtime.wait_ready(vm, offset)

    def pause(self, ctxt: RequestContext, uuid: str) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            self._require(vm, "pause", PowerState.RUNNING)
            self._runtime.execute(vm, "stop")
            self._runtime.set_state(vm, PowerState.PAUSED)

    def trigger_crash_dump(self, uuid: str) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            self._require(vm, "trigger_crash_dump", PowerState.RUNNING, PowerState.PAUSED)
            self._runtime.execute(vm, "inject-nmi")

    def unpause(self, ctxt: RequestContext, uuid: str) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            self._require(vm, "unpause", PowerState.PAUSED)
            self._runtime.execute(vm, "cont")
            self._runtime.set_state(vm, PowerState.RUNNING)

    def suspend(self, ctxt: RequestContext, uuid: str) -> None:
        """Save the whole VM (memory and devices) to state.suspend and stop QEMU."""
        with self._vms.locked(uuid, built=True) as vm:
            self._require(vm, "suspend", PowerState.RUNNING)
            self._runtime.execute(vm, "stop")
            try:
                self._runtime.save_state(vm, vm.path(SUSPEND_STATE))
            except DriverError:
                self._runtime.execute(vm, "cont")
                raise
            vm.record.suspended = True
            vm.save()
            self._runtime.stop(vm)
            self._runtime.set_state(vm, PowerState.SUSPENDED)

    def resume(self, ctxt: RequestContext, uuid: str) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            self._require(vm, "resume", PowerState.SUSPENDED)
            self._runtime.start(vm, incoming=vm.path(SUSPEND_STATE))
            try:
                self._runtime.wait_incoming(vm)
            except DriverError:
                self._runtime.stop(vm)
                raise
            vm.discard_saved_state()
            self._runtime.set_state(vm, PowerState.RUNNING)

    def _require(self, vm: VM, action: str, *allowed: PowerState) -> None:
        state = self._runtime.refresh(vm)
        if state not in allowed:
            raise InstanceActionInvalid(
                f"Cannot {action} instance {vm.uuid} while its power state is {state.name}."
            )

    # --- rescue and snapshot ----------------------------------------------------------------------
    def rescue(
        self, ctxt: RequestContext, uuid: str, rescue_image: ImageRef, admin_password: str | None
    ) -> None:
        """Boot the rescue image (default: the instance's own image) with the VM's disk as /dev/vdb; a
        rescue image with a kernel boots that kernel, the instance's own image the VM's kernel."""
        with self._vms.locked(uuid, built=True) as vm:
            if vm.record.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is already in rescue mode.")
            self._require(vm, "rescue", PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.CRASHED)
            known = rescue_image.path or self.images.path_for(rescue_image.id).exists()
            base = self.images.fetch(rescue_image if known else vm.spec.image)
            rescue_boot = (
                kernel_boot.install(rescue_image, vm.folder, rescue=True) if known else
                KernelBoot.from_record(vm.record.kernel_boot)
            )  # fmt: skip
            self._runtime.stop(vm)
            disks.create_overlay(base, vm.path(RESCUE_DISK))
            vm.record.rescue_kernel_boot = rescue_boot.to_record() if rescue_boot else None
            vm.record.rescued = True
            offset = self._runtime.start(vm)
            self._runtime.set_state(vm, PowerState.RUNNING)
        self._runtime.wait_ready(vm, offset)

    def unrescue(self, ctxt: RequestContext, uuid: str) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            if not vm.record.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is not in rescue mode.")
            self._runtime.stop(vm)
            vm.path(RESCUE_DISK).unlink(missing_ok=True)
            rescue_boot = KernelBoot.from_record(vm.record.rescue_kernel_boot)
            if rescue_boot != KernelBoot.from_record(vm.record.kernel_boot):
                kernel_boot.remove(rescue_boot, vm.folder)
            vm.record.rescue_kernel_boot = None
            vm.record.rescued = False
            offset = self._runtime.start(vm)
            self._runtime.set_state(vm, PowerState.RUNNING)
        self._runtime.wait_ready(vm, offset)

    def snapshot(self, ctxt: RequestContext, uuid: str, image_id: str, upload: SnapshotUpload) -> None:
        """Flatten the root disk (overlay + base) into a standalone qcow2 and hand its path to `upload`."""
        target = self.instances_dir / f".snapshot-{uuid}-{time.monotonic_ns()}.qcow2"
        try:
            with self._vms.locked(uuid, built=True) as vm:
                running = self._runtime.refresh(vm) == PowerState.RUNNING
                if running:
                    self._runtime.execute(vm, "stop")  # flushes the disk; the guest sees no gap in time
                try:
                    disks.flatten(vm.path(ROOT_DISK), target, force_share=self._runtime.alive(vm))
                finally:
                    if running:
                        self._runtime.execute(vm, "cont")
            upload(target)
        finally:
            target.unlink(missing_ok=True)

    # --- cold resize / migration: ColdResize ------------------------------------------------------
    def migrate_disk_and_power_off(
        self, ctxt: RequestContext, uuid: str, new_spec: InstanceSpec
    ) -> dict[str, Any]:
        return self._resize.migrate_disk_and_power_off(ctxt, uuid, new_spec)

    def export_migration_disk(
        self, ctxt: RequestContext, uuid: str, upload: SnapshotUpload, *, standalone: bool
    ) -> None:
        self._resize.export_migration_disk(ctxt, uuid, upload, standalone=standalone)

    def finish_migration(
        self, ctxt: RequestContext, new_spec: InstanceSpec, resize_instance: bool, power_on: bool
    ) -> None:
        self._resize.finish_migration(ctxt, new_spec, resize_instance, power_on)

    def confirm_migration(self, ctxt: RequestContext, uuid: str) -> None:
        self._resize.confirm_migration(ctxt, uuid)

    def finish_revert_migration(self, ctxt: RequestContext, old_spec: InstanceSpec, power_on: bool) -> None:
        self._resize.finish_revert_migration(ctxt, old_spec, power_on)

    # --- inspection -------------------------------------------------------------------------------
    def get_info(self, uuid: str) -> InstanceInfo:
        with self._vms.locked(uuid) as vm:
            state = self._runtime.refresh(vm)
            spec = vm.spec
            max_mem_kb = spec.memory_mb * 1024
            return InstanceInfo(
                state=state,
                max_mem_kb=max_mem_kb,
                mem_kb=max_mem_kb if state in (PowerState.RUNNING, PowerState.PAUSED) else 0,
                num_cpu=spec.vcpus,
                cpu_time_ns=self._runtime.cpu_time_ns(vm),
            )

    # --- network interfaces -----------------------------------------------------------------------
    def attach_interface(self, ctxt: RequestContext, uuid: str, vif: dict[str, Any]) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            nics.plug(self._runtime, vm, vif)

    def detach_interface(self, ctxt: RequestContext, uuid: str, vif: dict[str, Any]) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            nics.unplug(self._runtime, vm, str(vif["id"]))

    def interface_ids(self, uuid: str) -> list[str]:
        return [str(vif["id"]) for vif in self._vms.get(uuid).spec.network_info if "id" in vif]

    # --- volumes ----------------------------------------------------------------------------------
    def attach_volume(
        self, ctxt: RequestContext, uuid: str, connection_info: dict[str, Any], device: VolumeDevice
    ) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            volumes.plug(self._runtime, vm, self._runtime.host, connection_info, device)

    def detach_volume(self, ctxt: RequestContext, uuid: str, volume_id: str) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            volumes.unplug(self._runtime, vm, volume_id)

    def extend_volume(self, ctxt: RequestContext, uuid: str, volume_id: str, new_size_bytes: int) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            volumes.resize(self._runtime, vm, volume_id, new_size_bytes)

    def swap_volume(
        self,
        ctxt: RequestContext,
        uuid: str,
        old_volume_id: str,
        connection_info: dict[str, Any],
        device: VolumeDevice,
    ) -> None:
        with self._vms.locked(uuid, built=True) as vm:
            volumes.swap(self._runtime, vm, self._runtime.host, old_volume_id, connection_info, device)

    def volume_ids(self, uuid: str) -> list[str]:
        return volumes.volume_ids(self._vms.get(uuid))

    def get_console_output(self, ctxt: RequestContext, uuid: str) -> str:
        return self.get_console_log(uuid)

    def get_console_log(self, uuid: str, length: int | None = None) -> str:
        """The serial console, its last `length` lines when given."""
        vm = self._vms.get(uuid)
        return console.tail(vm.path(launch.CONSOLE_FILE), length)

    def get_serial_console(self, uuid: str) -> dict[str, Any]:
        """Where the VM's serial port listens: its TCP port on this host as the console proxy reaches it,
        or (port_range empty) its unix socket. One client at a time; the output is also logged."""
        vm = self._vms.get(uuid)
        if not self._runtime.alive(vm):
            raise InstanceActionInvalid(f"Instance {uuid} is not running: its serial console is closed.")
        serial = self._runtime.serial_ports
        if vm.record.serial_port is not None and serial is not None:
            return {"kind": "tcp", "host": serial.proxyclient_address, "port": vm.record.serial_port}
        return {"kind": "unix", "path": str(vm.path(launch.SERIAL_SOCKET))}

    def get_diagnostics(self, uuid: str) -> dict[str, Any]:
        """Nova's libvirt diagnostics with what QEMU and the host measure (virt/qemu/diagnostics.py)."""
        with self._vms.locked(uuid) as vm:
            state = self._runtime.refresh(vm)
            up = vm.started_at is not None and state in (PowerState.RUNNING, PowerState.PAUSED)
            config_drive = vm.path(CONFIG_DRIVE).exists()
            facts = diagnostics.VMFacts(
                state=state.name.lower(), vcpus=vm.spec.vcpus, memory_mb=vm.spec.memory_mb,
                uptime=int(time.time() - vm.started_at) if up and vm.started_at else 0,
                config_drive=config_drive, hypervisor="kvm" if self.accelerator.name == "kvm" else "qemu",
                pid=vm.pid if up else None, vifs=list(vm.record.vifs.values()),
                cpu_time_ns=self._runtime.cpu_time_ns(vm),
                drives=(2 if vm.record.rescued else 1) + (1 if config_drive else 0),
            )  # fmt: skip
            execute = (lambda command: self._runtime.execute(vm, command, timeout=10)) if up else None
            report = diagnostics.collect(facts, execute)
            extra = {"accelerator": self.accelerator.name, "rescued": vm.record.rescued, "pid": vm.pid}
            return {**report, **extra, "ssh_port": vm.record.ssh_port}


def _forced(accelerator: str | None) -> Accelerator:
    if accelerator == "kvm":
        return Accelerator("kvm", "host", "configured")
    return Accelerator("tcg", "max", "configured" if accelerator == "tcg" else "not probed yet")


def _encoded_version(text: str) -> int:
    numbers = [int(part) for part in text.split()[0].split(".")[:3] if part.isdigit()] if text else []
    return hardware.encode_version(*[*numbers, 0, 0, 0][:3]) if numbers else 1
