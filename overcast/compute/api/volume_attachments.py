"""os-volume_attachments: a server's volumes listed and shown, a volume attached (reserved here, connected
and plugged by the compute host), swapped (admins), its delete_on_termination changed, or detached.

The API reserves the volume through the volume service (`attachment_create`: Cinder's checks and
statuses), then writes the block device mapping with the next free device name and casts the host; the
host finishes or gives everything back. From 2.20 a shelved server takes attaches and detaches too: a
SHELVED one through its host as usual; a SHELVED_OFFLOADED one has no host, so the API completes the
attachment without a connection (the volume is in-use) or ends it, and the host that unshelves the server
connects every mapped volume for itself. Errors are Nova's: an unknown volume or one not attached to the
server is a 404, a volume that cannot be attached (in use, not available) a 400, a server in a state
that does not allow it a 409.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast import errors, servicegroup
from overcast.cloud import Cloud
from overcast.compute import block_device_mappings, instance_actions, instance_extra, states
from overcast.compute.api.lookup import visible_instance
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.compute.rpcapi import ComputeAPI
from overcast.compute.snapshot_images import create_snapshot_image, store_snapshot
from overcast.context import RequestContext
from overcast.db.models.block_device_mapping import BlockDeviceMapping
from overcast.db.models.compute import Instance
from overcast.db.models.service import ServiceRecord
from overcast.image.api import ImageAPI
from overcast.volume.api.service import VolumeAPI

LOG = logging.getLogger(__name__)

# Nova's block_device.match_device: what a `device` may look like (the name itself is not honoured:
# the guest's kernel names disks in the order it finds them, so the host picks the next free one).
_DEVICE_PATH = re.compile(r"^/dev/x?[a-z]?d?[a-z]+[0-9]*$")
# Two attaches racing for the same next device name: the loser takes the one after.
_NAME_ATTEMPTS = 5
# Nova from 2.20: a shelved server's volumes may change (it has no task in flight).
_SHELVED_STATES = (states.SHELVED, states.SHELVED_OFFLOADED)


@dataclass(frozen=True)
class Attachment:
    """One row of a server's volume attachments, as the router renders it by microversion."""

    server_id: str
    volume_id: str
    device: str | None
    tag: str | None
    delete_on_termination: bool
    attachment_id: str | None
    bdm_uuid: str

    @classmethod
    def of(cls, mapping: BlockDeviceMapping) -> Attachment:
        return cls(
            server_id=mapping.instance_uuid, volume_id=str(mapping.volume_id), device=mapping.device_name,
            tag=mapping.tag, delete_on_termination=bool(mapping.delete_on_termination),
            attachment_id=mapping.attachment_id, bdm_uuid=mapping.uuid,
        )  # fmt: skip


def check_device(device: str | None) -> None:
    if device is not None and not _DEVICE_PATH.match(device):
        raise errors.BadRequest(f"The supplied device path ({device}) is invalid.")


class VolumeAttachmentAPI:
    def __init__(self, cloud: Cloud, volumes: VolumeAPI) -> None:
        self.cloud = cloud
        self.db = cloud.db
        self.volumes = volumes
        self.compute_rpc = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)

    # --- reads ------------------------------------------------------------------------------------
    def list(
        self, ctxt: RequestContext, uuid: str, *, limit: int | None = None, offset: int = 0
    ) -> list[Attachment]:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            rows = [row for row in block_device_mappings.of_instance(session, uuid) if row.volume_id]
        end = None if limit is None else offset + limit
        return [Attachment.of(row) for row in rows[offset:end]]

    def show(self, ctxt: RequestContext, uuid: str, volume_id: str) -> Attachment:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            return Attachment.of(_attached(session, uuid, volume_id))

    # --- attach -----------------------------------------------------------------------------------
    def attach(
        self,
        ctxt: RequestContext,
        uuid: str,
        volume_id: str,
        *,
        device: str | None = None,
        tag: str | None = None,
        delete_on_termination: bool = False,
        shelved: bool = False,
    ) -> Attachment:
        """`shelved`: the request's microversion (2.20) lets a shelved server take the volume."""
        check_device(device)
        with self.db.reader() as session:
            _actionable(session, ctxt, uuid, "attach_volume", shelved=shelved)
        self.volumes.get(ctxt, volume_id)  # an unknown (or another project's) volume is a 404
        reserved = self.volumes.attachment_create(ctxt, volume_id, uuid)
        attachment_id = str(reserved["id"])
        try:
            mapping, host = self._map(
                ctxt, uuid, volume_id, attachment_id, tag, delete_on_termination, shelved=shelved
            )
        except Exception:
            self._quietly_delete_attachment(ctxt, attachment_id)
            raise
        if host is None:  # shelved offloaded: no host connects it until the server is unshelved
            try:
                self.volumes.attachment_complete(ctxt, attachment_id)
            except Exception:
                self._quietly_delete_attachment(ctxt, attachment_id)
                self.db.write(lambda session: _remove_mapping(session, mapping.bdm_uuid))
                raise
            return mapping
        self.compute_rpc.attach_volume(ctxt, host, uuid, mapping.bdm_uuid)
        return mapping

    def _map(
        self,
        ctxt: RequestContext,
        uuid: str,
        volume_id: str,
        attachment_id: str,
        tag: str | None,
        delete_on_termination: bool,
        *,
        shelved: bool,
    ) -> tuple[Attachment, str | None]:
        def write(session: Session) -> tuple[Attachment, str | None]:
            # Checked again in the writing transaction: the server may have changed since the first look.
            instance = _actionable(session, ctxt, uuid, "attach_volume", shelved=shelved)
            mappings = block_device_mappings.of_instance(session, uuid)
            if any(row.volume_id == volume_id for row in mappings):
                raise errors.BadRequest(f"Invalid volume: volume {volume_id} already attached")
            root_is_volume = any(row.boot_index == 0 and row.volume_id for row in mappings)
            row = BlockDeviceMapping(
                instance_uuid=uuid, source_type="volume", destination_type="volume", volume_id=volume_id,
                attachment_id=attachment_id, tag=tag, delete_on_termination=delete_on_termination,
                device_name=block_device_mappings.next_device_name(
                    (m.device_name for m in mappings), root_is_volume=root_is_volume
                ),
            )  # fmt: skip
            session.add(row)
            session.flush()
            instance_actions.record_action(session, ctxt, uuid, instance_actions.ATTACH_VOLUME)
            return Attachment.of(row), instance.host

        for attempt in range(_NAME_ATTEMPTS):
            try:
                result: tuple[Attachment, str | None] = self.db.write(write)
                return result
            except IntegrityError:
                if attempt == _NAME_ATTEMPTS - 1:
                    raise errors.Conflict(
                        f"Another volume is being attached to server {uuid}; try again."
                    ) from None
        raise AssertionError("unreachable")

    # --- update: delete_on_termination (2.85), swap (admins) -------------------------------------
    def update(
        self, ctxt: RequestContext, uuid: str, volume_id: str, *, delete_on_termination: bool | None
    ) -> None:
        def write(session: Session) -> None:
            instance = visible_instance(session, ctxt, uuid)
            instance_extra.ensure_unlocked(session, ctxt, instance)
            mapping = _attached(session, uuid, volume_id)
            if delete_on_termination is not None:
                mapping.delete_on_termination = delete_on_termination

        self.db.write(write)

    def swap(self, ctxt: RequestContext, uuid: str, old_volume_id: str, new_volume_id: str) -> None:
        with self.db.reader() as session:
            instance = _actionable(session, ctxt, uuid, "swap_volume")
            mapping = _attached(session, uuid, old_volume_id)
            if mapping.boot_index == 0:
                raise errors.BadRequest("Swapping the root volume of a server is not supported.")
            host = str(instance.host)
        old = self.volumes.get(ctxt, old_volume_id)
        new = self.volumes.get(ctxt, new_volume_id)
        if old.get("status") != "in-use":
            raise errors.BadRequest(f"Invalid volume: volume {old_volume_id} is not in-use")
        if int(new.get("size") or 0) < int(old.get("size") or 0):
            raise errors.BadRequest(
                f"Invalid volume: volume {new_volume_id} is smaller than the volume it replaces"
            )
        reserved = self.volumes.attachment_create(ctxt, new_volume_id, uuid)
        try:
            self.volumes.begin_detaching(ctxt, old_volume_id)
        except Exception:
            self._quietly_delete_attachment(ctxt, str(reserved["id"]))
            raise
        self.db.write(
            lambda session: instance_actions.record_action(session, ctxt, uuid, instance_actions.SWAP_VOLUME)
        )
        self.compute_rpc.swap_volume(ctxt, host, uuid, old_volume_id, new_volume_id, str(reserved["id"]))

    # --- detach -----------------------------------------------------------------------------------
    def detach(self, ctxt: RequestContext, uuid: str, volume_id: str, *, shelved: bool = False) -> None:
        """`shelved`: the request's microversion (2.20) lets a shelved server give the volume back."""
        with self.db.reader() as session:
            instance = _actionable(session, ctxt, uuid, "detach_volume", shelved=shelved)
            mapping = _attached(session, uuid, volume_id)
            if mapping.boot_index == 0:
                raise errors.BadRequest("Cannot detach a root device volume")
            offloaded, attachment_id = instance.host is None, mapping.attachment_id
            host = str(instance.host)
            host_up = not offloaded and self._compute_is_up(session, host)
        if offloaded:  # no VM holds the disk: the volume side ends here
            self.volumes.begin_detaching(ctxt, volume_id)
            self._detach_without_host(ctxt, uuid, volume_id, attachment_id)
            return
        if not host_up and ctxt.is_admin:
            LOG.warning(
                "Detaching volume %s from %s without its compute host, which is down", volume_id, uuid
            )
            self._detach_without_host(ctxt, uuid, volume_id, attachment_id)
            return
        if mapping.connection_info is None:
            raise errors.Conflict(f"Volume {volume_id} is still being attached to server {uuid}; try later.")
        self.volumes.begin_detaching(ctxt, volume_id)
        self.db.write(
            lambda session: instance_actions.record_action(
                session, ctxt, uuid, instance_actions.DETACH_VOLUME
            )
        )
        self.compute_rpc.detach_volume(ctxt, host, uuid, volume_id, attachment_id)

    def _detach_without_host(
        self, ctxt: RequestContext, uuid: str, volume_id: str, attachment_id: str | None
    ) -> None:
        """No host can unplug the disk (the server is offloaded, or its host is down), so the volume side
        is finished here (the attachment and any export go, the volume is available again) and the mapping
        removed. A host that comes back finds the volume gone from the server's spec at its next start."""
        if attachment_id:
            self.volumes.attachment_delete(ctxt, attachment_id)

        def write(session: Session) -> None:
            row = block_device_mappings.of_volume(session, uuid, volume_id)
            if row is not None:
                session.delete(row)
            instance_actions.record_action(session, ctxt, uuid, instance_actions.DETACH_VOLUME)

        self.db.write(write)

    def _compute_is_up(self, session: Session, host: str) -> bool:
        record = session.scalars(
            select(ServiceRecord).where(ServiceRecord.host == host, ServiceRecord.binary == COMPUTE_BINARY)
        ).first()
        return record is not None and servicegroup.service_is_up(
            record, self.cloud.clock(), self.cloud.settings.service_down_time
        )

    def release_all(self, uuid: str) -> None:
        """A server deleted by the API itself (its host is down): end its attachments, delete the volumes
        marked delete_on_termination and remove its mappings, as the host would have."""
        admin = RequestContext.admin()
        with self.db.reader() as session:
            mappings = block_device_mappings.of_instance(session, uuid)
        for mapping in mappings:
            if mapping.attachment_id:
                self._quietly_delete_attachment(admin, mapping.attachment_id)
            if mapping.delete_on_termination and mapping.volume_id:
                try:
                    self.volumes.delete(admin, mapping.volume_id)
                except Exception:
                    LOG.exception("Deleting volume %s of deleted server %s failed", mapping.volume_id, uuid)
        self.db.write(
            lambda session: session.execute(
                delete(BlockDeviceMapping).where(BlockDeviceMapping.instance_uuid == uuid)
            )
        )

    # --- createImage of a volume-backed server ------------------------------------------------------
    def snapshot_server(
        self, ctxt: RequestContext, uuid: str, name: str, metadata: dict[str, str] | None, images: ImageAPI
    ) -> str | None:
        """Nova's snapshot of a volume-backed server: a snapshot of each of its volumes (forced: they
        are in use) and an image without data whose `block_device_mapping` property names them, so a
        server booted from it gets volumes made from the snapshots. None: the server is image-backed."""
        with self.db.reader() as session:
            instance = visible_instance(session, ctxt, uuid)
            mappings = [row for row in block_device_mappings.of_instance(session, uuid) if row.volume_id]
        if not any(row.boot_index == 0 for row in mappings):
            return None
        states.check_action("create_image", instance.vm_state, instance.task_state, uuid)
        described = []
        for row in mappings:
            snapshot = self.volumes.create_snapshot(
                ctxt, str(row.volume_id), force=True, name=f"snapshot for {name}"
            )
            described.append({
                "source_type": "snapshot", "destination_type": "volume", "snapshot_id": snapshot["id"],
                "volume_size": snapshot.get("size"), "boot_index": row.boot_index,
                "device_name": row.device_name, "delete_on_termination": row.delete_on_termination,
                "tag": row.tag, "volume_type": row.volume_type, "disk_bus": "virtio", "device_type": "disk",
                "guest_format": None, "no_device": None,
            })  # fmt: skip
        properties = {
            **(metadata or {}), "block_device_mapping": json.dumps(described), "bdm_v2": "True",
            "root_device_name": block_device_mappings.ROOT_DEVICE_NAME,
        }  # fmt: skip

        def write(session: Session) -> str:
            instance = visible_instance(session, ctxt, uuid)
            instance_actions.record_action(session, ctxt, uuid, instance_actions.CREATE_IMAGE)
            return create_snapshot_image(session, images, ctxt, instance, name, properties)

        image_id: str = self.db.write(write)
        store_snapshot(self.cloud, image_id, io.BytesIO(b""), api=images)  # the volumes hold the data
        return image_id

    def _quietly_delete_attachment(self, ctxt: RequestContext, attachment_id: str) -> None:
        try:
            self.volumes.attachment_delete(ctxt, attachment_id)
        except errors.NotFound:
            pass
        except Exception:
            LOG.exception("Deleting volume attachment %s failed", attachment_id)


def _actionable(
    session: Session, ctxt: RequestContext, uuid: str, action: str, *, shelved: bool = False
) -> Instance:
    instance = visible_instance(session, ctxt, uuid)
    instance_extra.ensure_unlocked(session, ctxt, instance)
    if shelved and instance.vm_state in _SHELVED_STATES:
        if instance.task_state is not None:  # being unshelved (or offloaded): its host is changing
            raise errors.Conflict(
                states.invalid_state_message(action, uuid, "task_state", instance.task_state)
            )
        return instance
    states.check_action(action, instance.vm_state, instance.task_state, uuid)
    if instance.host is None:
        raise errors.Conflict(states.invalid_state_message(action, uuid, "vm_state", instance.vm_state))
    return instance


def _remove_mapping(session: Session, bdm_uuid: str) -> None:
    session.execute(delete(BlockDeviceMapping).where(BlockDeviceMapping.uuid == bdm_uuid))


def _attached(session: Session, uuid: str, volume_id: str) -> BlockDeviceMapping:
    mapping = block_device_mappings.of_volume(session, uuid, volume_id)
    if mapping is None:
        raise errors.NotFound(f"Instance {uuid} is not attached to volume {volume_id}.")
    return mapping


def describe(attachment: Attachment) -> dict[str, Any]:
    """Every field Nova's views may show; the router keeps those of the request's microversion."""
    return {
        "id": attachment.volume_id, "serverId": attachment.server_id, "volumeId": attachment.volume_id,
        "device": attachment.device, "tag": attachment.tag,
        "delete_on_termination": attachment.delete_on_termination,
        "attachment_id": attachment.attachment_id, "bdm_uuid": attachment.bdm_uuid,
    }  # fmt: skip
