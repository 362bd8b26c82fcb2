"""Compute service: the actions that make or use images of a server: rebuild, snapshot (createImage),
shelve, shelve-offload and unshelve. Snapshots and shelved disks are uploaded through the image
service's data path (`snapshot_images.py`); unshelve deletes the shelved image once the server runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from overcast.compute import instance_extra, states
from overcast.compute.manager.host import CLEAN_SHUTDOWN_TIMEOUT, HostEndpoint
from overcast.compute.manager.volumes import VolumeActions
from overcast.compute.snapshot_images import delete_snapshot_image, rotate_backups
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.compute import Instance
from overcast.manager import rpc_method
from overcast.placement.claims import Resources, release
from overcast.virt.driver import PowerState

LOG = logging.getLogger(__name__)


def _nothing() -> None:
    return None


class ImageActions(HostEndpoint):
    """The compute service's actions that make or use images of a server: an additional RPC endpoint."""

    # The host's volume side (the manager sets it): a volume-backed rebuild (2.93) reimages the root volume.
    volumes: VolumeActions | None = None

    # --- rebuild ----------------------------------------------------------------------------------
    @rpc_method
    def rebuild_instance(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        admin_password: str,
        done_vm_state: str,
        reimage_image_id: str | None = None,
    ) -> None:
        def work(instance: Instance) -> dict[str, Any]:
            shared = self.compute_host
            shared.advance(instance_uuid, states.REBUILDING, states.REBUILD_BLOCK_DEVICE_MAPPING)
            self.driver.destroy(ctxt, instance_uuid)
            volumes = self.volumes
            if reimage_image_id is not None and volumes is not None:
                volumes.reimage_boot_volume(ctxt, instance_uuid, reimage_image_id)
            shared.advance(instance_uuid, states.REBUILD_BLOCK_DEVICE_MAPPING, states.REBUILD_SPAWNING)
            self.driver.spawn(ctxt, shared.prepared(ctxt, shared.spec(instance)), admin_password)
            if reimage_image_id is not None and volumes is not None:
                volumes.complete_boot_volumes(ctxt, instance_uuid)
            if done_vm_state == states.STOPPED:
                self.driver.power_off(ctxt, instance_uuid, CLEAN_SHUTDOWN_TIMEOUT)
            return {"launched_at": utcnow()}

        self.compute_host.run_action(
            ctxt,
            instance_uuid,
            "rebuild",
            event="compute_rebuild_instance",
            notify="rebuild",
            work=work,
            done_vm_state=done_vm_state,
            error_vm_state=states.ERROR,
        )

    # --- snapshot ---------------------------------------------------------------------------------
    @rpc_method
    def snapshot_instance(self, ctxt: RequestContext, instance_uuid: str, image_id: str) -> None:
        self._snapshot(ctxt, instance_uuid, image_id, "compute_snapshot_instance")

    @rpc_method
    def backup_instance(
        self, ctxt: RequestContext, instance_uuid: str, image_id: str, backup_type: str, rotation: int
    ) -> None:
        """createBackup (1.7): a snapshot, then, once it is uploaded, the rotation of the server's backups
        of that type (as Nova's compute manager: a failed upload deletes none of the older ones). The
        rotation is part of the action, so a client that sees the task end sees the rotated list."""
        images = self.compute_host.image_cache.image_api

        def rotate() -> None:
            rotate_backups(self.compute_host.cloud, images, instance_uuid, backup_type, rotation)

        self._snapshot(ctxt, instance_uuid, image_id, "compute_backup_instance", then=rotate)

    def _snapshot(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        image_id: str,
        event: str,
        then: Callable[[], None] = _nothing,
    ) -> None:
        def uploading() -> None:
            self.compute_host.advance(instance_uuid, states.IMAGE_SNAPSHOT, states.IMAGE_PENDING_UPLOAD)
            self.compute_host.advance(instance_uuid, states.IMAGE_PENDING_UPLOAD, states.IMAGE_UPLOADING)

        def work(instance: Instance) -> None:
            self.compute_host.advance(instance_uuid, states.IMAGE_SNAPSHOT_PENDING, states.IMAGE_SNAPSHOT)
            upload = self.compute_host.upload_to(image_id, uploading)
            self.driver.snapshot(ctxt, instance_uuid, image_id, upload)
            then()

        done = self.compute_host.run_action(
            ctxt,
            instance_uuid,
            "create_image",
            event=event,
            notify="snapshot",
            work=work,
        )
        if not done:
            delete_snapshot_image(self.compute_host.image_cache.image_api, image_id)

    # --- shelve -----------------------------------------------------------------------------------
    @rpc_method
    def shelve_instance(self, ctxt: RequestContext, instance_uuid: str, image_id: str, offload: bool) -> None:
        def uploading() -> None:
            self.compute_host.advance(
                instance_uuid, states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING
            )

        def work(instance: Instance) -> dict[str, Any]:
            self.compute_host.advance(instance_uuid, states.SHELVING, states.SHELVING_IMAGE_PENDING_UPLOAD)
            upload = self.compute_host.upload_to(image_id, uploading)
            self.driver.snapshot(ctxt, instance_uuid, image_id, upload)
            self.driver.power_off(ctxt, instance_uuid, CLEAN_SHUTDOWN_TIMEOUT)
            return {}

        def after(session: Session, instance: Instance) -> None:
            instance_extra.update_system_metadata(session, instance_uuid, shelved_at=utcnow().isoformat())

        shelved = self.compute_host.run_action(
            ctxt,
            instance_uuid,
            "shelve",
            event="compute_shelve_instance",
            notify="shelve",
            work=work,
            after=after,
        )
        if (
            shelved
            and offload
            and self.compute_host.swap(
                instance_uuid,
                (None,),
                expected_vm_state=(states.SHELVED,),
                task_state=states.SHELVING_OFFLOADING,
            )
        ):
            self.shelve_offload_instance(ctxt, instance_uuid)

    @rpc_method
    def shelve_offload_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        def work(instance: Instance) -> dict[str, Any]:
            self.driver.destroy(ctxt, instance_uuid)
            return {"host": None, "node": None, "devices": [], "power_state": int(PowerState.NOSTATE)}

        held: dict[str, Any] = {}
        instance = self.compute_host.load(instance_uuid)
        if instance is not None:
            held.update(node=instance.node, resources=Resources.of(instance))

        def after(session: Session, offloaded: Instance) -> None:
            if held:
                release(session, self.host, held["node"], held["resources"])

        self.compute_host.run_action(
            ctxt,
            instance_uuid,
            "shelve_offload",
            event="compute_shelve_offload_instance",
            notify="shelve_offload",
            work=work,
            after=after,
        )

    @rpc_method
    def unshelve_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        """SHELVED: power the VM on again. SHELVED_OFFLOADED (placed here by the conductor): spawn it."""
        instance = self.compute_host.load(instance_uuid)
        if instance is None:
            return
        image_id = self.compute_host.sysmeta(instance_uuid).get("shelved_image_id")
        if instance.vm_state == states.SHELVED:
            work: Any = lambda current: self.driver.power_on(ctxt, instance_uuid)  # noqa: E731
        else:
            if not self.compute_host.advance(instance_uuid, states.SCHEDULING, states.SPAWNING):
                return

            def work(current: Instance) -> dict[str, Any]:
                spec = self.compute_host.spec(current, image_id=image_id)
                volumes = self.volumes
                if volumes is not None:  # connected for this host, not the one the server left
                    spec = replace(
                        spec, block_device_info=volumes.reconnect(ctxt, instance_uuid, unshelving=True)
                    )
                self.driver.spawn(ctxt, self.compute_host.prepared(ctxt, spec))
                if volumes is not None:
                    volumes.complete_boot_volumes(ctxt, instance_uuid)
                return {"launched_at": utcnow()}

        def after(session: Session, unshelved: Instance) -> None:
            instance_extra.update_system_metadata(
                session, instance_uuid, shelved_image_id=None, shelved_at=None
            )

        done = self.compute_host.run_action(
            ctxt,
            instance_uuid,
            "unshelve",
            event="compute_unshelve_instance",
            notify="unshelve",
            work=work,
            after=after,
            error_vm_state=instance.vm_state,
        )
        if done and image_id:
            delete_snapshot_image(self.compute_host.image_cache.image_api, image_id)
        if not done and instance.vm_state == states.SHELVED_OFFLOADED:
            self._unshelve_failed(ctxt, instance)

    def _unshelve_failed(self, ctxt: RequestContext, instance: Instance) -> None:
        """A failed spawn leaves the instance offloaded again, its claim here given back."""
        try:
            self.driver.destroy(ctxt, instance.uuid)
        except Exception:
            LOG.exception("Cleaning up VM %s after a failed unshelve", instance.uuid)

        def write(session: Session) -> None:
            current = session.get(Instance, instance.id)
            if (
                current is not None
                and current.host == self.host
                and current.vm_state == states.SHELVED_OFFLOADED
            ):
                release(session, self.host, current.node, Resources.of(current))
                current.host, current.node, current.devices = None, None, []

        self.cloud.db.write(write)
