"""Cold resize and cold migration of QEMU VMs.

The source stops the VM (the ACPI power button, then hard) and renames its folder to `<uuid>_resize`:
overlay, config drive and record stay there until confirm (removed) or revert (renamed back). It returns
where that folder is; the compute manager hands this to the destination's finish_migration as
`InstanceSpec.migration_data`. The destination (this host, or another compute host) copies the overlay
into a new folder, rebases the copy onto its own cached base when the source's base lives in another
folder, grows it to the new flavor's root disk (never shrinks), writes a fresh config drive and starts
QEMU with the new vCPUs and memory.

For a destination on another host (unless the hosts share their instances folders), the compute manager
has the source export the disk (`export_migration_disk`: the overlay without its backing reference, or
flattened when its base is no image any more) through the image service, and hands the destination the
local files it fetched (`disk_path`, `base_path`): the destination then never reads the source's folder.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from overcast.context import RequestContext
from overcast.virt.driver import (
    DriverError,
    ImageRef,
    InstanceActionInvalid,
    InstanceNotFound,
    InstanceSpec,
    PowerState,
    SnapshotUpload,
)
from overcast.virt.qemu import disks, kernel_boot
from overcast.virt.qemu.configdrive import ConfigDrives
from overcast.virt.qemu.instance import CONFIG_DRIVE, RECORD_FILE, ROOT_DISK, VM, InstanceRecord
from overcast.virt.qemu.launch import INSTANCE_DIR_MODE
from overcast.virt.qemu.runtime import Runtime
from overcast.virt.qemu.vms import HostVMs

LOG = logging.getLogger(__name__)
RESIZE_SUFFIX = "_resize"
OWNER_FILE = "resize-source.json"  # which host set the folder aside: only that host may drop it
EXPORT_FILE = "transfer.qcow2"  # the exported disk, only while it uploads
# Nova's shutdown_timeout: how long the guest may take to power off cleanly before a hard stop.
SHUTDOWN_TIMEOUT = 60.0


def set_aside_name(uuid: str) -> str:
    return f"{uuid}{RESIZE_SUFFIX}"


def is_set_aside(folder: Path) -> bool:
    return folder.name.endswith(RESIZE_SUFFIX)


class ColdResize:
    """The QEMU driver's cold resize and migration, on both ends, over the host's VMs and disks."""

    def __init__(
        self,
        vms: HostVMs,
        runtime: Runtime,
        images: disks.ImageCache,
        config_drives: ConfigDrives,
    ) -> None:
        self._vms = vms
        self._instances_dir = vms.instances_dir
        self._runtime = runtime
        self._images = images
        self._config_drives = config_drives

    @property
    def _host(self) -> str | None:
        return self._vms.host  # named by the driver's init_host

    # --- source -----------------------------------------------------------------------------------
    def migrate_disk_and_power_off(
        self, ctxt: RequestContext, uuid: str, new_spec: InstanceSpec
    ) -> dict[str, Any]:
        """Stop the VM and rename its folder to `<uuid>_resize`; returns where it is."""
        if new_spec.uuid != uuid:
            raise DriverError(f"Resize spec is for {new_spec.uuid}, not {uuid}.")
        _check_sizes(new_spec)
        aside = self._instances_dir / set_aside_name(uuid)
        with self._vms.locked(uuid, built=True) as vm:
            if vm.record.rescued:
                raise InstanceActionInvalid(f"Cannot resize instance {uuid} while it is in rescue mode.")
            if aside.exists():
                raise DriverError(f"Disks of an earlier resize of {uuid} are still set aside at {aside}.")
            if self._runtime.refresh(vm) != PowerState.SHUTDOWN:
                self._runtime.stop(vm, graceful_timeout=SHUTDOWN_TIMEOUT)
            vm.discard_saved_state()
            self._runtime.set_state(vm, PowerState.SHUTDOWN)
            self._runtime.release_port(vm)
            (vm.folder / OWNER_FILE).write_text(json.dumps({"host": self._host}))
            vm.folder.rename(aside)
            self._vms.forget(uuid)
        LOG.info("Instance %s stopped; its disks are set aside at %s", uuid, aside)
        backing = disks.backing_file(aside / ROOT_DISK)
        # The base is named after its image: a destination elsewhere fetches that image to re-attach it.
        base_id = None
        if backing is not None and backing.parent.resolve() == self._images.base_dir.resolve():
            base_id = backing.name
        return {"host": self._host, "folder": str(aside), "base_image_id": base_id}

    def export_migration_disk(
        self, ctxt: RequestContext, uuid: str, upload: SnapshotUpload, *, standalone: bool
    ) -> None:
        aside = self._instances_dir / set_aside_name(uuid)
        if not (aside / ROOT_DISK).is_file() or _owner(aside) not in (self._host, None):
            raise InstanceNotFound(f"Instance {uuid} has no disks set aside on host {self._host}.")
        export = aside / EXPORT_FILE
        try:
            if standalone:
                disks.flatten(aside / ROOT_DISK, export)
            else:
                # The image service refuses qcow2 with a backing file (it could point at host files).
                shutil.copyfile(aside / ROOT_DISK, export)
                disks.detach_backing(export)
            upload(export)
        finally:
            export.unlink(missing_ok=True)

    def confirm_migration(self, ctxt: RequestContext, uuid: str) -> None:
        if self._drop_set_aside(uuid):
            self._vms.prune_bases()

    def _drop_set_aside(self, uuid: str) -> bool:
        """Remove what this host set aside for `uuid` (not another host's, should they share a folder)."""
        aside = self._instances_dir / set_aside_name(uuid)
        if not aside.is_dir() or _owner(aside) not in (self._host, None):
            return False
        shutil.rmtree(aside, ignore_errors=True)
        return True

    # --- destination ------------------------------------------------------------------------------
    def finish_migration(
        self, ctxt: RequestContext, new_spec: InstanceSpec, resize_instance: bool, power_on: bool
    ) -> None:
        """Build the VM from the disk set aside by the source, with the new flavor; start it if asked."""
        _check_sizes(new_spec)
        uuid = new_spec.uuid
        data = new_spec.migration_data
        source: Path | None = None
        if not data.get("disk_path"):
            source = self._source_folder(new_spec)
            if not (source / ROOT_DISK).is_file():
                where = data.get("host") or self._host
                raise DriverError(
                    f"Cannot finish the move of {uuid} to host {self._host}: its disk, set aside by host "
                    f"{where} at {source}, is not reachable from here (and was not sent through the image "
                    "service: is resize_shared_instances_path wrongly set?)."
                )
        old = _record(source) if source is not None else None
        spec = replace(
            new_spec,
            migration_data={},
            network_info=new_spec.network_info or (old.instance_spec.network_info if old else []),
        )
        folder = self._instances_dir / uuid
        vm = VM(uuid=uuid, folder=folder, record=InstanceRecord(spec=spec.to_dict()))
        self._vms.add(vm, new_folder=True)
        offset = 0
        try:
            with vm.lock:
                folder.mkdir(mode=INSTANCE_DIR_MODE, parents=True)
                if source is not None:
                    _copy_root_disk(source / ROOT_DISK, vm.path(ROOT_DISK), self._images)
                else:
                    _adopt_exported_disk(data, vm.path(ROOT_DISK), self._images)
                if resize_instance:
                    disks.grow(vm.path(ROOT_DISK), spec.root_gb * disks.GiB)
                boot = _kernel_boot_here(spec, old, source, folder)
                vm.record.kernel_boot = boot.to_record() if boot else None
                self._config_drives.write(spec, vm.path(CONFIG_DRIVE))
                new_vifs = {str(v["id"]): dict(v) for v in spec.network_info if "id" in v}
                vm.record.vifs = dict(old.vifs) if old is not None else new_vifs
                if old is not None and source is not None and source.parent == self._instances_dir:
                    # The same host: users keep the SSH and serial ports they know.
                    vm.record.ssh_port, vm.record.serial_port = old.ssh_port, old.serial_port
                vm.save()
                vm.state = PowerState.SHUTDOWN
                if power_on:
                    offset = self._runtime.start(vm)
                    self._runtime.set_state(vm, PowerState.RUNNING)
            self._vms.flush(vm)
            if power_on:
                self._runtime.wait_ready(vm, offset)
        except BaseException as exc:
            LOG.warning("Finishing the move of %s failed: %s", uuid, exc)
            self._vms.remove(vm)
            if isinstance(exc, DriverError):
                raise
            raise DriverError(f"Cannot finish the move of {uuid}: {exc}") from exc

    def _source_folder(self, spec: InstanceSpec) -> Path:
        named = spec.migration_data.get("folder")
        folder = Path(named) if named else self._instances_dir / set_aside_name(spec.uuid)
        if folder.name != set_aside_name(spec.uuid):  # only ever a folder a resize of this VM set aside
            raise DriverError(f"{folder} is not where a resize of {spec.uuid} sets its disks aside.")
        return folder

    # --- revert (source) --------------------------------------------------------------------------
    def finish_revert_migration(self, ctxt: RequestContext, old_spec: InstanceSpec, power_on: bool) -> None:
        """Put the folder set aside back and bring the old VM up (the destination removed the new one)."""
        uuid = old_spec.uuid
        aside = self._instances_dir / set_aside_name(uuid)
        if not (aside / RECORD_FILE).is_file() or _owner(aside) not in (self._host, None):
            raise InstanceNotFound(f"Instance {uuid} has no pre-resize disks on host {self._host}.")
        resized = self._vms.find(uuid)
        if resized is not None:
            self._vms.remove(resized)  # resized on this very host: the new VM is still here
        # What destroy(destroy_disks=False) left.
        shutil.rmtree(self._instances_dir / uuid, ignore_errors=True)
        (aside / OWNER_FILE).unlink(missing_ok=True)
        folder = aside.rename(self._instances_dir / uuid)
        record = InstanceRecord.load(folder)
        networks = old_spec.network_info or record.instance_spec.network_info
        spec = replace(old_spec, migration_data={}, network_info=networks)
        record.spec = spec.to_dict()
        vm = VM(uuid=uuid, folder=folder, record=record, state=PowerState.SHUTDOWN)
        vm.save()
        self._vms.add(vm, new_folder=False)
        if not power_on:
            return
        with vm.lock:
            offset = self._runtime.start(vm)
            self._runtime.set_state(vm, PowerState.RUNNING)
        self._vms.flush(vm)
        self._runtime.wait_ready(vm, offset)


def _check_sizes(spec: InstanceSpec) -> None:
    if spec.vcpus < 1 or spec.memory_mb < 16:
        raise DriverError(f"Cannot resize {spec.uuid}: a VM needs at least 1 vcpu and 16 MB of memory.")


def _owner(aside: Path) -> str | None:
    try:
        host = json.loads((aside / OWNER_FILE).read_text()).get("host")
    except (OSError, ValueError, AttributeError):
        return None
    return str(host) if host else None


def _record(folder: Path) -> InstanceRecord | None:
    try:
        return InstanceRecord.load(folder)
    except (OSError, ValueError, TypeError):
        return None


def _copy_root_disk(source: Path, dest: Path, images: disks.ImageCache) -> None:
    """Copy the overlay; when its base lives in another host's cache, cache that base here and rebase."""
    backing = disks.backing_file(source)
    shutil.copyfile(source, dest)
    if backing is None or backing.parent.resolve() == images.base_dir.resolve():
        return
    if not backing.is_file():
        raise DriverError(f"The base image {backing} of {source} is not reachable from this host.")
    # The base keeps the source's name (the image it came from), so later spawns of that image share it.
    local = images.fetch(ImageRef(id=backing.name, path=str(backing)))
    disks.rebase_unsafe(dest, local)


def _kernel_boot_here(
    spec: InstanceSpec, old: InstanceRecord | None, source: Path | None, folder: Path
) -> kernel_boot.KernelBoot | None:
    """The moved VM's direct kernel boot: from the image files this host was given, else carried from the
    folder the source set aside (the same host, or a shared instances path)."""
    if spec.image.kernel_path:
        return kernel_boot.install(spec.image, folder)
    boot = kernel_boot.KernelBoot.from_record(old.kernel_boot) if old is not None else None
    if boot is not None and source is not None:
        return kernel_boot.carry(boot, source, folder)
    return kernel_boot.install(spec.image, folder)  # None, or the error that names what is missing


def _adopt_exported_disk(data: dict[str, Any], dest: Path, images: disks.ImageCache) -> None:
    """Copy the disk the manager fetched from the image service; an overlay gets this host's base back."""
    shutil.copyfile(data["disk_path"], dest)
    base_id = data.get("base_image_id")
    if base_id:
        local = images.fetch(ImageRef(id=str(base_id), path=data.get("base_path")))
        disks.rebase_unsafe(dest, local)
