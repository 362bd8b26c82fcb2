"""The fake hypervisor's cold resize and cold migration (the "moves")."""

from __future__ import annotations

import io

from overcast.context import RequestContext
from overcast.virt.driver import (
    DriverError,
    InstanceExists,
    InstanceNotFound,
    InstanceSpec,
    PowerState,
    SnapshotUpload,
)
from overcast.virt.fake_hypervisor import ACTIVE_STATES, FakeHypervisor, FakeVM, volumes_of


class FakeColdResize:
    """The fake driver's cold resize and migration, on both ends: the source sets the VM aside, the
    destination (maybe the same host) builds it anew with the new flavor."""

    def __init__(self, hypervisor: FakeHypervisor) -> None:
        self._hypervisor = hypervisor

    # --- source -----------------------------------------------------------------------------------
    def migrate_disk_and_power_off(self, ctxt: RequestContext, uuid: str, new_spec: InstanceSpec) -> None:
        if new_spec.uuid != uuid:
            raise DriverError(f"Resize spec is for {new_spec.uuid}, not {uuid}.")
        self._hypervisor.validate(new_spec)
        with self._hypervisor.lock:
            vm = self._hypervisor.get_built(uuid)
            was_active = vm.state in ACTIVE_STATES
            self._hypervisor.halt(vm, PowerState.SHUTDOWN)
            self._hypervisor.set_aside[uuid] = self._hypervisor.vms.pop(uuid)
        if was_active:
            self._hypervisor.emit(uuid, "stopped")

    def export_migration_disk(
        self, ctxt: RequestContext, uuid: str, upload: SnapshotUpload, *, standalone: bool
    ) -> None:
        with self._hypervisor.lock:
            vm = self._hypervisor.set_aside.get(uuid)
            if vm is None:
                host = self._hypervisor.host
                raise InstanceNotFound(f"Instance {uuid} has no disks set aside on host {host}.")
            disk = f"FAKEDISK instance={uuid} base_image={vm.spec.image.id} standalone={standalone}\n"
        upload(io.BytesIO(disk.encode()))

    # --- destination ------------------------------------------------------------------------------
    def finish_migration(
        self, ctxt: RequestContext, new_spec: InstanceSpec, resize_instance: bool, power_on: bool
    ) -> None:
        moved_disk = _moved_disk(new_spec)
        with self._hypervisor.lock:
            if new_spec.uuid in self._hypervisor.vms:
                host = self._hypervisor.host
                raise InstanceExists(f"Instance {new_spec.uuid} already exists on host {host}.")
            backup = self._hypervisor.set_aside.get(new_spec.uuid)  # present when resizing on the same host
            # The VM's NICs: the ones the compute host gives it here, else (same host) the ones it had.
            vifs = {str(vif["id"]): dict(vif) for vif in new_spec.network_info if "id" in vif}
            vm = FakeVM(spec=new_spec, moved_disk=moved_disk, vifs=vifs, volumes=volumes_of(new_spec))
            if backup is not None:
                vm.console.extend(backup.console)
                vm.vifs = vifs or dict(backup.vifs)
                vm.admin_password = backup.admin_password
            vm.state = PowerState.SHUTDOWN
            self._hypervisor.vms[new_spec.uuid] = vm
            if power_on:
                self._hypervisor.boot(vm)
        if power_on:
            self._hypervisor.emit(new_spec.uuid, "started")

    # --- settling (source) ------------------------------------------------------------------------
    def confirm_migration(self, ctxt: RequestContext, uuid: str) -> None:
        with self._hypervisor.lock:
            self._hypervisor.set_aside.pop(uuid, None)

    def finish_revert_migration(self, ctxt: RequestContext, old_spec: InstanceSpec, power_on: bool) -> None:
        uuid = old_spec.uuid
        with self._hypervisor.lock:
            vm = self._hypervisor.set_aside.pop(uuid, None)
            if vm is None:
                host = self._hypervisor.host
                raise InstanceNotFound(f"Instance {uuid} has no pre-resize disks on host {host}.")
            self._hypervisor.vms.pop(uuid, None)  # the resized VM, if the destination (this host) left it
            vm.spec = old_spec
            vm.volumes = volumes_of(old_spec)
            self._hypervisor.vms[uuid] = vm
            if power_on:
                self._hypervisor.boot(vm)
        if power_on:
            self._hypervisor.emit(uuid, "started")


def _moved_disk(spec: InstanceSpec) -> bytes | None:
    """The disk that came through the image service (its local file), checked to be this instance's."""
    path = spec.migration_data.get("disk_path")
    if not path:
        return None
    with open(path, "rb") as handle:
        disk = handle.read()
    if not disk.startswith(f"FAKEDISK instance={spec.uuid} ".encode()):
        raise DriverError(f"The disk at {path} is not the one of instance {spec.uuid}.")
    return disk
