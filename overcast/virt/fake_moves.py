"""The fake hypervisor's rescue, snapshot, admin password and cold resize (migration) operations."""

from __future__ import annotations

import io

from overcast.context import RequestContext
from overcast.virt.driver import (
    DriverError,
    ImageRef,
    InstanceActionInvalid,
    InstanceExists,
    InstanceNotFound,
    InstanceSpec,
    PowerState,
    SnapshotUpload,
)
from overcast.virt.fake_base import ACTIVE_STATES, FakeDriverBase, FakeVM, injectable


class FakeMovesDriver(FakeDriverBase):
    # --- rescue, snapshot, password ---------------------------------------------------------------
    @injectable
    def rescue(
        self, ctxt: RequestContext, uuid: str, rescue_image: ImageRef, admin_password: str | None
    ) -> None:
        with self._lock:
            vm = self._get(uuid)
            if vm.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is already in rescue mode.")
            self._require(vm, "rescue", PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.CRASHED)
            was_running = vm.state == PowerState.RUNNING
            self._halt(vm, PowerState.SHUTDOWN)
            vm.rescued = True
            vm.admin_password = admin_password or vm.admin_password
            vm.console.append(f"Booting rescue image {rescue_image.id}; original disk on /dev/vdb")
            self._boot(vm)
        if not was_running:
            self._emit(uuid, "started")

    @injectable
    def unrescue(self, ctxt: RequestContext, uuid: str) -> None:
        with self._lock:
            vm = self._get(uuid)
            if not vm.rescued:
                raise InstanceActionInvalid(f"Instance {uuid} is not in rescue mode.")
            was_running = vm.state == PowerState.RUNNING
            self._halt(vm, PowerState.SHUTDOWN)
            vm.rescued = False
            self._boot(vm)
        if not was_running:
            self._emit(uuid, "started")

    @injectable
    def snapshot(self, ctxt: RequestContext, uuid: str, image_id: str, upload: SnapshotUpload) -> None:
        with self._lock:
            vm = self._get_built(uuid)
            disk = (
                f"FAKEDISK instance={uuid} base_image={vm.spec.image.id} snapshot={image_id} "
                f"root_gb={vm.spec.root_gb} boots={vm.boots}\n"
            ).encode()
        upload(io.BytesIO(disk))  # outside the lock: an upload may take long

    @injectable
    def set_admin_password(self, uuid: str, password: str) -> None:
        with self._lock:
            vm = self._get(uuid)
            self._require(vm, "set the admin password of", PowerState.RUNNING)
            vm.admin_password = password

    # --- cold resize / migration ------------------------------------------------------------------
    @injectable
    def migrate_disk_and_power_off(self, ctxt: RequestContext, uuid: str, new_spec: InstanceSpec) -> None:
        if new_spec.uuid != uuid:
            raise DriverError(f"Resize spec is for {new_spec.uuid}, not {uuid}.")
        self._validate(new_spec)
        with self._lock:
            vm = self._get_built(uuid)
            was_active = vm.state in ACTIVE_STATES
            self._halt(vm, PowerState.SHUTDOWN)
            self._resize_backups[uuid] = self._vms.pop(uuid)
        if was_active:
            self._emit(uuid, "stopped")

    @injectable
    def export_migration_disk(
        self, ctxt: RequestContext, uuid: str, upload: SnapshotUpload, *, standalone: bool
    ) -> None:
        with self._lock:
            vm = self._resize_backups.get(uuid)
            if vm is None:
                raise InstanceNotFound(f"Instance {uuid} has no disks set aside on host {self.host}.")
            disk = f"FAKEDISK instance={uuid} base_image={vm.spec.image.id} standalone={standalone}\n"
        upload(io.BytesIO(disk.encode()))

    @injectable
    def finish_migration(
        self, ctxt: RequestContext, new_spec: InstanceSpec, resize_instance: bool, power_on: bool
    ) -> None:
        moved_disk = _moved_disk(new_spec)
        with self._lock:
            if new_spec.uuid in self._vms:
                raise InstanceExists(f"Instance {new_spec.uuid} already exists on host {self.host}.")
            backup = self._resize_backups.get(new_spec.uuid)  # present when resizing on the same host
            vm = FakeVM(spec=new_spec, moved_disk=moved_disk)
            if backup is not None:
                vm.console.extend(backup.console)
                vm.vifs = dict(backup.vifs)
                vm.admin_password = backup.admin_password
            vm.state = PowerState.SHUTDOWN
            self._vms[new_spec.uuid] = vm
            if power_on:
                self._boot(vm)
        if power_on:
            self._emit(new_spec.uuid, "started")

    @injectable
    def confirm_migration(self, ctxt: RequestContext, uuid: str) -> None:
        with self._lock:
            self._resize_backups.pop(uuid, None)

    @injectable
    def finish_revert_migration(self, ctxt: RequestContext, old_spec: InstanceSpec, power_on: bool) -> None:
        uuid = old_spec.uuid
        with self._lock:
            vm = self._resize_backups.pop(uuid, None)
            if vm is None:
                raise InstanceNotFound(f"Instance {uuid} has no pre-resize disks on host {self.host}.")
            self._vms.pop(uuid, None)  # the resized VM, if the destination (this host) left it
            vm.spec = old_spec
            self._vms[uuid] = vm
            if power_on:
                self._boot(vm)
        if power_on:
            self._emit(uuid, "started")


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
