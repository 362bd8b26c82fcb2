"""Compute service: a server's volumes on this host (an additional RPC endpoint, os-volume_attachments').

The API reserved the volume (`attachment_create`) and wrote the block device mapping; here the host
sends its connector (`attachment_update`: the volume host exports the volume and answers with the
connection_info), the driver plugs the disk, and `attachment_complete` makes the volume in-use. Any
failure gives everything back (the disk unplugged, the attachment deleted, the mapping removed): the
server keeps running without the volume and its instance action records the error. Detach is the
reverse: the driver unplugs (the guest lets go first), then the attachment goes and the export with it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute import block_device_mappings
from overcast.compute.manager.host import ComputeHost, HostEndpoint
from overcast.context import RequestContext
from overcast.db.models.block_device_mapping import BlockDeviceMapping
from overcast.manager import rpc_method
from overcast.virt.driver import InstanceNotFound, VolumeDevice, iscsi_initiator_name
from overcast.volume.api.service import VolumeAPI

LOG = logging.getLogger(__name__)
GiB = 1024**3


class BootVolumeFailed(errors.OvercastError):
    """A volume the server boots with could not be made or connected: the build stops here (Nova's
    BuildAbortException), since another host would wait for the same volume."""

    status = 500
    title = "computeFault"
    default_message = "A block device of the server could not be prepared."


class VolumeAttachFailed(errors.OvercastError):
    status = 500
    title = "computeFault"
    default_message = "Failed to attach the volume."


def connector(host: str, address: str) -> dict[str, Any]:
    """What this host tells the volume service about itself (os-brick's connector properties)."""
    return {
        "host": host, "initiator": iscsi_initiator_name(host), "ip": address, "multipath": False,
        "platform": "x86_64", "os_type": "linux",
    }  # fmt: skip


class VolumeActions(HostEndpoint):
    def __init__(self, compute_host: ComputeHost, rpc_api_version: str, volumes: VolumeAPI) -> None:
        super().__init__(compute_host, rpc_api_version)
        self.volumes = volumes
        self.connector = connector(self.host, self.cloud.settings.network_underlay_ip)
        # Nova's block_device_allocate_retries x _interval (60 x 3 s): how long a new boot volume may
        # take to become available (an image copy takes its time).
        self.boot_volume_timeout = 180.0
        self.boot_volume_poll = 0.25

    # --- boot volumes (a build) -------------------------------------------------------------------
    def connect_boot_volumes(
        self, ctxt: RequestContext, uuid: str, mappings: list[BlockDeviceMapping] | None = None
    ) -> list[dict[str, Any]]:
        """Before spawn: make the volumes the server's mappings ask for (`mappings`, when the caller
        has read them), reserve and connect each one here; returns the spec's block_device_info. Raises
        BootVolumeFailed."""
        if mappings is None:
            with self.cloud.db.reader() as session:
                mappings = block_device_mappings.of_instance(session, uuid)
        unconnected = [mapping for mapping in mappings if mapping.connection_info is None]
        if not unconnected:  # nothing changes (an image-backed server): no second read
            return block_device_mappings.connected_volumes(mappings)
        for mapping in unconnected:
            try:
                volume_id = mapping.volume_id or self._create_boot_volume(ctxt, uuid, mapping)
                self._wait_available(ctxt, volume_id)
                attachment = self.volumes.attachment_create(ctxt, volume_id, uuid)
                self._update_mapping(mapping.uuid, attachment_id=str(attachment["id"]))
                wanted = {**self.connector, "mountpoint": mapping.device_name}
                info = self.volumes.attachment_update(ctxt, str(attachment["id"]), wanted)
                self._update_mapping(mapping.uuid, connection_info=info)
            except BootVolumeFailed:
                raise
            except Exception as exc:
                what = (
                    mapping.volume_id
                    or f"from {mapping.source_type} {mapping.image_id or mapping.snapshot_id}"
                )
                raise BootVolumeFailed(f"Build of instance {uuid} aborted: volume {what}: {exc}") from exc
        with self.cloud.db.reader() as session:
            return block_device_mappings.block_device_info(session, uuid)

    def reconnect(self, ctxt: RequestContext, uuid: str, *, unshelving: bool = False) -> list[dict[str, Any]]:
        """The server's VM is about to start on this host (a move's destination, a revert's source, an
        unshelve): each attachment is connected for this host's initiator; returns the spec's
        block_device_info. `unshelving`: also those attached while the server was offloaded, which no
        host connected yet (on a move, such a mapping is an attach still in flight)."""
        with self.cloud.db.reader() as session:
            mappings = block_device_mappings.of_instance(session, uuid)
        for mapping in mappings:
            if mapping.attachment_id and (unshelving or mapping.connection_info is not None):
                wanted = {**self.connector, "mountpoint": mapping.device_name}
                info = self.volumes.attachment_update(ctxt, mapping.attachment_id, wanted)
                self._update_mapping(mapping.uuid, connection_info=info)
        with self.cloud.db.reader() as session:
            return block_device_mappings.block_device_info(session, uuid)

    def complete_boot_volumes(self, ctxt: RequestContext, uuid: str) -> None:
        """The VM runs with its volumes: each attachment completes (the volumes turn in-use)."""
        with self.cloud.db.reader() as session:
            mappings = block_device_mappings.of_instance(session, uuid)
        for mapping in mappings:
            if mapping.attachment_id and mapping.connection_info is not None:
                complete = self.volumes.attachment_complete
                self._quietly(
                    f"completing attachment {mapping.attachment_id}", complete, ctxt, mapping.attachment_id
                )

    def disconnect_boot_volumes(self, ctxt: RequestContext, uuid: str) -> None:
        """A build that failed here: its attachments end (the volumes it made stay mapped, so another
        host, or the server's delete, finds them)."""
        with self.cloud.db.reader() as session:
            mappings = block_device_mappings.of_instance(session, uuid)
        for mapping in mappings:
            if mapping.attachment_id:
                self._quietly(f"deleting attachment {mapping.attachment_id}", self.volumes.attachment_delete,
                              ctxt, mapping.attachment_id)  # fmt: skip
                self._update_mapping(mapping.uuid, attachment_id=None, connection_info=None)

    def reimage_boot_volume(self, ctxt: RequestContext, uuid: str, image_id: str) -> None:
        """A volume-backed server's rebuild (2.93), its VM gone: the root volume's attachment becomes a
        reserved one, its volume host writes the image over it (os-reimage with reimage_reserved, as Nova
        asks Cinder), and the new attachment is connected here for the spawn that follows."""
        with self.cloud.db.reader() as session:
            mappings = block_device_mappings.of_instance(session, uuid)
        root = next((one for one in mappings if one.boot_index == 0 and one.volume_id), None)
        if root is None:
            raise BootVolumeFailed(f"Instance {uuid} has no root volume to reimage.")
        volume_id = str(root.volume_id)
        if root.attachment_id:
            self.volumes.attachment_delete(ctxt, root.attachment_id)
        attachment_id = str(self.volumes.attachment_create(ctxt, volume_id, uuid)["id"])
        self._update_mapping(root.uuid, attachment_id=attachment_id, connection_info=None)
        self.volumes.volumes.reimage(ctxt, volume_id, image_id, reimage_reserved=True)
        deadline = time.monotonic() + self.boot_volume_timeout
        while (status := self.volumes.get(ctxt, volume_id)["status"]) != "reserved":
            if status != "downloading" or time.monotonic() >= deadline:
                raise BootVolumeFailed(f"Volume {volume_id} was not reimaged with {image_id}: {status}.")
            time.sleep(self.boot_volume_poll)
        wanted = {**self.connector, "mountpoint": root.device_name}
        info = self.volumes.attachment_update(ctxt, attachment_id, wanted)
        self._update_mapping(root.uuid, connection_info=info)

    def _create_boot_volume(self, ctxt: RequestContext, uuid: str, mapping: BlockDeviceMapping) -> str:
        volume = self.volumes.create(
            ctxt, mapping.volume_size, name=f"{uuid}-{mapping.device_name or 'volume'}".replace("/dev/", ""),
            volume_type=mapping.volume_type, image_id=mapping.image_id, snapshot_id=mapping.snapshot_id,
        )  # fmt: skip
        volume_id = str(volume["id"])
        self._update_mapping(mapping.uuid, volume_id=volume_id)
        return volume_id

    def _wait_available(self, ctxt: RequestContext, volume_id: str) -> None:
        deadline = time.monotonic() + self.boot_volume_timeout
        while True:
            status = self.volumes.get(ctxt, volume_id)["status"]
            if status == "available":
                return
            if status not in ("creating", "downloading"):
                raise BootVolumeFailed(f"Volume {volume_id} is {status}, not available.")
            if time.monotonic() >= deadline:
                raise BootVolumeFailed(
                    f"Volume {volume_id} did not finish being created even after we waited "
                    f"{self.boot_volume_timeout:g} seconds."
                )
            time.sleep(self.boot_volume_poll)

    def _update_mapping(self, bdm_uuid: str, **values: Any) -> None:
        def write(session: Session) -> None:
            row = session.scalars(
                select(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid)
            ).first()
            if row is not None:
                for key, value in values.items():
                    setattr(row, key, value)

        self.cloud.db.write(write)

    # --- attach -----------------------------------------------------------------------------------
    @rpc_method
    def attach_volume(self, ctxt: RequestContext, instance_uuid: str, bdm_uuid: str) -> None:
        mapping = self._find_mapping(bdm_uuid)
        if mapping is None or mapping.volume_id is None or mapping.attachment_id is None:
            LOG.info("Not attaching %s to %s: its mapping is gone", bdm_uuid, instance_uuid)
            return
        try:
            with self.compute_host.event(ctxt, instance_uuid, "compute_attach_volume"):
                self._attach(ctxt, instance_uuid, mapping)
        except Exception as exc:
            LOG.warning("Attaching volume %s to %s failed: %s", mapping.volume_id, instance_uuid, exc)

    def _attach(self, ctxt: RequestContext, uuid: str, mapping: BlockDeviceMapping) -> None:
        volume_id, attachment_id = str(mapping.volume_id), str(mapping.attachment_id)
        device = VolumeDevice(volume_id, str(mapping.device_name), mapping.boot_index)
        plugged = False
        try:
            wanted = {**self.connector, "mountpoint": device.mountpoint}
            connection_info = self.volumes.attachment_update(ctxt, attachment_id, wanted)
            self.driver.attach_volume(ctxt, uuid, connection_info, device)
            plugged = True
            self._store_connection(mapping.uuid, connection_info)
            self.volumes.attachment_complete(ctxt, attachment_id)
        except Exception as exc:
            self._give_back(ctxt, uuid, mapping, unplug=plugged)
            if isinstance(exc, errors.OvercastError):
                raise
            raise VolumeAttachFailed(f"Failed to attach volume {volume_id} to {uuid}: {exc}") from exc

    def _give_back(
        self, ctxt: RequestContext, uuid: str, mapping: BlockDeviceMapping, *, unplug: bool
    ) -> None:
        volume_id = str(mapping.volume_id)
        if unplug:
            self._quietly(
                f"unplugging {volume_id} from {uuid}", self.driver.detach_volume, ctxt, uuid, volume_id
            )
        if mapping.attachment_id:
            self._quietly(f"deleting attachment {mapping.attachment_id}", self.volumes.attachment_delete,
                          ctxt, mapping.attachment_id)  # fmt: skip
        self.cloud.db.write(lambda session: _remove_mapping(session, mapping.uuid))

    # --- detach -----------------------------------------------------------------------------------
    @rpc_method
    def detach_volume(
        self, ctxt: RequestContext, instance_uuid: str, volume_id: str, attachment_id: str | None
    ) -> None:
        try:
            with self.compute_host.event(ctxt, instance_uuid, "compute_detach_volume"):
                self.detach(ctxt, instance_uuid, volume_id, attachment_id)
        except Exception as exc:
            LOG.warning("Detaching volume %s from %s failed: %s", volume_id, instance_uuid, exc)

    def detach(self, ctxt: RequestContext, uuid: str, volume_id: str, attachment_id: str | None) -> None:
        """Unplug, then end the attachment (the export goes) and remove the mapping. A guest that does
        not let go puts the volume back in-use (roll_detaching) and keeps the mapping."""
        try:
            self.driver.detach_volume(ctxt, uuid, volume_id)
        except InstanceNotFound:
            pass  # no VM here any more: nothing holds the disk
        except Exception:
            self._quietly(
                f"rolling back the detach of {volume_id}", self.volumes.roll_detaching, ctxt, volume_id
            )
            raise
        if attachment_id:
            self.volumes.attachment_delete(ctxt, attachment_id)

        def remove(session: Session) -> None:
            session.execute(
                delete(BlockDeviceMapping).where(
                    BlockDeviceMapping.instance_uuid == uuid, BlockDeviceMapping.volume_id == volume_id
                )
            )

        self.cloud.db.write(remove)

    def release_all(self, ctxt: RequestContext, uuid: str) -> None:
        """After the VM is gone (server delete, failed build): end every attachment, delete the volumes
        marked delete_on_termination, remove the mappings. Each step on its own: one volume that fails
        does not keep the others attached."""
        with self.cloud.db.reader() as session:
            mappings = block_device_mappings.of_instance(session, uuid)
        for mapping in mappings:
            release(self.volumes, ctxt, mapping)
            self.cloud.db.write(functools.partial(_remove_mapping, bdm_uuid=mapping.uuid))

    # --- extend, swap -----------------------------------------------------------------------------
    @rpc_method
    def extend_volume(self, ctxt: RequestContext, instance_uuid: str, volume_id: str, new_size: int) -> None:
        try:
            self.driver.extend_volume(ctxt, instance_uuid, volume_id, int(new_size) * GiB)
        except Exception as exc:
            LOG.warning("Telling %s that volume %s grew failed: %s", instance_uuid, volume_id, exc)

    @rpc_method
    def swap_volume(
        self,
        ctxt: RequestContext,
        instance_uuid: str,
        old_volume_id: str,
        new_volume_id: str,
        new_attachment_id: str,
    ) -> None:
        try:
            with self.compute_host.event(ctxt, instance_uuid, "compute_swap_volume"):
                self._swap(ctxt, instance_uuid, old_volume_id, new_volume_id, new_attachment_id)
        except Exception as exc:
            LOG.warning("Swapping volume %s for %s on %s failed: %s", old_volume_id, new_volume_id,
                        instance_uuid, exc)  # fmt: skip

    def _swap(
        self, ctxt: RequestContext, uuid: str, old_id: str, new_id: str, new_attachment_id: str
    ) -> None:
        with self.cloud.db.reader() as session:
            mapping = block_device_mappings.of_volume(session, uuid, old_id)
        if mapping is None:
            raise errors.NotFound(f"Volume {old_id} is not attached to {uuid}.")
        device = VolumeDevice(new_id, str(mapping.device_name), mapping.boot_index)
        try:
            connection_info = self.volumes.attachment_update(
                ctxt, new_attachment_id, {**self.connector, "mountpoint": device.mountpoint}
            )
            self.driver.swap_volume(ctxt, uuid, old_id, connection_info, device)
        except Exception:
            self._quietly(f"rolling back the detach of {old_id}", self.volumes.roll_detaching, ctxt, old_id)
            self._quietly(f"deleting attachment {new_attachment_id}", self.volumes.attachment_delete,
                          ctxt, new_attachment_id)  # fmt: skip
            raise
        old_attachment = mapping.attachment_id

        def repoint(session: Session) -> None:
            row = session.scalars(
                select(BlockDeviceMapping).where(BlockDeviceMapping.uuid == mapping.uuid)
            ).first()
            if row is not None:
                row.volume_id, row.attachment_id, row.connection_info = (
                    new_id,
                    new_attachment_id,
                    connection_info,
                )

        self.cloud.db.write(repoint)
        self.volumes.attachment_complete(ctxt, new_attachment_id)
        if old_attachment:
            self.volumes.attachment_delete(ctxt, old_attachment)

    # --- helpers ----------------------------------------------------------------------------------
    def _find_mapping(self, bdm_uuid: str) -> BlockDeviceMapping | None:
        with self.cloud.db.reader() as session:
            return session.scalars(
                select(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid)
            ).first()

    def _store_connection(self, bdm_uuid: str, connection_info: dict[str, Any]) -> None:
        def write(session: Session) -> None:
            row = session.scalars(
                select(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid)
            ).first()
            if row is None:
                raise errors.Conflict("The server was deleted while the volume was being attached.")
            row.connection_info = connection_info

        self.cloud.db.write(write)

    @staticmethod
    def _quietly(what: str, step: Callable[..., Any], *args: Any) -> None:
        try:
            step(*args)
        except Exception:
            LOG.exception("Cleaning up failed: %s", what)


def release(volumes: VolumeAPI, ctxt: RequestContext, mapping: BlockDeviceMapping) -> None:
    """End one mapping's attachment and delete its volume if it was delete_on_termination (both logged,
    not raised, when they fail: the server is going anyway)."""
    if mapping.attachment_id:
        try:
            volumes.attachment_delete(ctxt, mapping.attachment_id)
        except errors.NotFound:
            pass
        except Exception:
            LOG.exception("Ending attachment %s of %s failed", mapping.attachment_id, mapping.instance_uuid)
            return
    if mapping.delete_on_termination and mapping.volume_id:
        try:
            volumes.delete(ctxt, mapping.volume_id)
        except Exception:
            LOG.exception("Deleting volume %s of %s failed", mapping.volume_id, mapping.instance_uuid)


def _remove_mapping(session: Session, bdm_uuid: str) -> None:
    session.execute(delete(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid))
