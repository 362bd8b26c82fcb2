"""The volume service: one per volume host, doing the storage work of the volumes placed on it.

The API (`volume/api/`) moves a volume into a transitional status by compare-and-swap and casts or calls
this manager, which does the driver's work and ends the operation with a compare-and-swap to its final
status (`available`, `in-use`, or Cinder's error statuses with the reason in `fail_reason`): a volume is
never left `creating` or `deleting`. A manager that died mid-operation finishes it at its next start
(`states.RECOVERY`), and removes every export that no attachment row needs. It reports its pool's
capacity to `volume_pools` at start and every `volume_report_interval` seconds; placement reads it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from typing import Any, ClassVar

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute.rpcapi import ComputeAPI
from overcast.context import RequestContext
from overcast.db.models.volume import (
    Snapshot,
    Volume,
    VolumeAdminMetadata,
    VolumeAttachment,
    VolumeMetadata,
    VolumePool,
    VolumeType,
)
from overcast.image.api import ImageAPI
from overcast.image.settings import ImageSettings
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.volume import group_records, image_transfer, states
from overcast.volume.data_actions import DataActions
from overcast.volume.drivers.base import GiB, VolumeDriver
from overcast.volume.drivers.choice import load_volume_driver
from overcast.volume.notifications import VolumeNotifier
from overcast.volume.quotas import VolumeQuotaEngine, release_volume
from overcast.volume.rpcapi import BINARY, TOPIC

LOG = logging.getLogger(__name__)

DEFAULT_REPORT_INTERVAL = 60.0
# fail_reason is for admins: the exception's message, bounded.
_REASON_LIMIT = 1000
CREATE_STATUSES = frozenset({states.CREATING, states.DOWNLOADING})


class VolumeNotHere(errors.NotFound):
    default_message = "The volume does not exist on this volume host."


class VolumeBusy(errors.Conflict):
    default_message = "The volume is not in the status this operation needs."


def _settled_status(volume: Volume) -> str:
    """Where an operation that leaves the data usable returns the volume: where it started from."""
    if volume.previous_status in (states.IN_USE, states.AVAILABLE):
        return volume.previous_status
    return states.IN_USE if volume.attach_status == states.ATTACHED else states.AVAILABLE


def _reason(exc: BaseException) -> str:
    message = exc.message if isinstance(exc, errors.OvercastError) else f"{type(exc).__name__}: {exc}"
    return message[:_REASON_LIMIT]


class VolumeManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.1"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = BINARY

    def __init__(
        self,
        cloud: Cloud,
        host: str,
        *,
        driver: VolumeDriver | None = None,
        images: ImageAPI | None = None,
    ) -> None:
        super().__init__(cloud, host)
        self.driver = driver or load_volume_driver(cloud.settings, host)
        # The volume host's composition root: image → volume copies and uploads go through this one image
        # service, as a compute host's image cache does.
        self.images = images or ImageAPI(cloud, ImageSettings())
        self.compute = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.backend_name = cloud.settings.volume_backend_name
        self.scratch = cloud.settings.data_dir / "volume-scratch" / host
        # Reports and export sweeps do not interleave with each other.
        self._sweep_lock = threading.Lock()
        self.notifier = VolumeNotifier(cloud, f"volume.{host}")
        # Snapshots, reverts, backups and restores: an endpoint of its own on this service's topic.
        self.data = DataActions(cloud, host, self.driver, notifier=self.notifier)
        self.additional_endpoints.append(self.data)

    # --- lifecycle --------------------------------------------------------------------------------
    def init_host(self) -> None:
        """Ready the pool, finish what a previous run left transitional, drop unneeded exports, report."""
        self.driver.init_host(self.host)
        self.recover()
        self.data.recover()
        self.prune_exports()
        self.report_capacity()

    def cleanup_host(self) -> None:
        self.driver.cleanup_host()

    @periodic_task(DEFAULT_REPORT_INTERVAL)
    def periodic_report(self) -> None:
        self.prune_exports()
        self.report_capacity()

    def periodic_tasks(self) -> list[tuple[str, float, bool, Callable[[], Any]]]:
        """The report runs every `volume_report_interval` seconds (a setting, so tests run it often)."""
        interval = self.cloud.settings.volume_report_interval
        return [
            (name, interval if name == "periodic_report" else spacing, run_now, fn)
            for name, spacing, run_now, fn in super().periodic_tasks()
        ]

    def recover(self) -> list[str]:
        """Move this host's volumes (and their snapshots) out of the transitional statuses a dead service
        left them in; returns the ids of the volumes moved. A delete it was doing is done now, as Cinder
        resumes it: its owner asked for it, and error_deleting would make them ask again."""
        with self.cloud.db.reader() as session:
            stuck = [
                (volume.id, volume.status, volume.attach_status, volume.group_id)
                for volume in session.scalars(
                    select(Volume).where(Volume.host == self.host, Volume.status.in_(list(states.RECOVERY)))
                )
            ]
            stuck_snapshots = [
                (snapshot.id, snapshot.status)
                for snapshot in session.scalars(
                    select(Snapshot)
                    .join(Volume, Volume.id == Snapshot.volume_id)
                    .where(Volume.host == self.host, Snapshot.status.in_(list(states.SNAPSHOT_RECOVERY)))
                )
            ]
        moved = []
        for volume_id, status, attach_status, group_id in stuck:
            if status == states.DELETING:
                LOG.warning("volume %s was deleting when the service stopped: resuming the delete", volume_id)
                self.delete_volume(RequestContext.admin(), volume_id)
                moved.append(volume_id)
                continue
            target = states.recovery_status(status, attach_status)
            if target is None:
                continue
            reason = f"The volume service on host {self.host} stopped while the volume was {status}."
            columns: dict[str, Any] = {"fail_reason": reason} if target.startswith("error") else {}
            if self._finish(volume_id, {status}, target, **columns):
                LOG.warning("volume %s was %s when the service stopped: now %s", volume_id, status, target)
                moved.append(volume_id)
                if group_id is not None:
                    # A group made from a source waiting on this volume settles (to error) with it.
                    self._settle_group(group_id)
        for snapshot_id, status in stuck_snapshots:
            target = states.SNAPSHOT_RECOVERY[status]
            self._finish_snapshot(snapshot_id, status, target)
            LOG.warning("snapshot %s was %s when the service stopped: now %s", snapshot_id, status, target)
        return moved

    def prune_exports(self) -> set[str]:
        """Remove every export that no attachment row of this host's volumes needs (returns their ids)
        and repair the others."""
        with self._sweep_lock:
            exported = self.driver.exports()
            if not exported:
                return set()
            with self.cloud.db.reader() as session:
                needed = set(
                    session.scalars(
                        select(VolumeAttachment.id)
                        .join(Volume, Volume.id == VolumeAttachment.volume_id)
                        .where(
                            Volume.host == self.host,
                            VolumeAttachment.attach_status != states.DETACHED,
                        )
                    )
                )
            stale = exported - needed
            for attachment_id in stale:
                LOG.info("removing export of attachment %s: no attachment needs it", attachment_id)
                self.driver.unexport(attachment_id)
            # And what is needed is there: a target removed behind the service's back comes back.
            self.driver.repair_exports()
            return stale

    def report_capacity(self) -> None:
        """Write the pool's capacity and what this host's volumes hold to `volume_pools`."""
        capacity = self.driver.capacity()

        def write(session: Session) -> None:
            allocated_gb = session.scalar(
                select(func.coalesce(func.sum(Volume.size), 0)).where(Volume.host == self.host)
            )
            row = session.get(VolumePool, (self.host, self.backend_name))
            if row is None:
                row = VolumePool(host=self.host, backend_name=self.backend_name)
                session.add(row)
            row.total_gb = capacity.total_gb
            row.free_gb = capacity.free_gb
            row.allocated_bytes = int(allocated_gb or 0) * GiB
            row.updated_at = self.cloud.clock()

        with self._sweep_lock:
            self.cloud.db.write(write)

    # --- RPC: the backend -----------------------------------------------------------------------------
    @rpc_method
    def get_capabilities(self, ctxt: RequestContext) -> dict[str, Any]:
        """Cinder's capabilities of this host's backend: what its driver says of itself, and the volume
        type extra specs it honours (`properties`, each with its title, description and type)."""
        properties: dict[str, Any] = {
            "multiattach": {
                "title": "Multi-attach",
                "description": "Volumes of the type may be attached to several servers at once.",
                "type": "boolean",
            },
        }
        if self.driver.thin_provisioning:
            properties["thin_provisioning"] = {
                "title": "Thin Provisioning",
                "description": "Volumes take space in the pool only as they are written.",
                "type": "boolean",
            }
        return {
            "namespace": f"OS::Storage::Capabilities::{self.host}@{self.backend_name}",
            "vendor_name": "Overcast",
            "volume_backend_name": self.backend_name,
            "pool_name": self.backend_name,
            "driver_version": self.driver.driver_version,
            "storage_protocol": self.driver.storage_protocol,
            "display_name": f"Capabilities of Overcast's {type(self.driver).__name__}",
            "description": None,
            "visibility": None,
            "replication_targets": [],
            "properties": properties,
        }

    # --- RPC: volumes -----------------------------------------------------------------------------
    @rpc_method
    def create_volume(self, ctxt: RequestContext, volume_id: str, source: dict[str, Any]) -> None:
        volume = self._volume(volume_id)
        if volume is None or volume.status != states.CREATING:
            LOG.warning("not creating volume %s: it is %s", volume_id, volume and volume.status)
            return
        finished: dict[str, Any] = {}
        try:
            finished = self._make_storage(ctxt, volume, source)
        except Exception as exc:
            LOG.exception("creating volume %s failed", volume_id)
            try:
                self.driver.delete_volume(volume_id)
            except Exception:
                LOG.exception("removing the storage of failed volume %s failed", volume_id)
            self._finish(volume_id, CREATE_STATUSES, states.ERROR, fail_reason=_reason(exc))
            self._settle_group_of(volume)
            return
        if not self._finish(
            volume_id,
            CREATE_STATUSES,
            states.AVAILABLE,
            launched_at=self.cloud.clock(),
            fail_reason=None,
            **finished,
        ):
            LOG.warning("volume %s changed while it was created: its delete removes the storage", volume_id)
        else:
            self.notifier.current(ctxt, "volume", volume_id, "create.end")
        self._settle_group_of(volume)
        self._report_quietly()

    def _settle_group_of(self, volume: Volume) -> None:
        """A group made from a source (3.14) settles when its last volume is made; each volume's settle
        runs after its own status committed, so the last one to finish sees every other."""
        if volume.group_id is not None:
            self._settle_group(volume.group_id)

    def _settle_group(self, group_id: str) -> None:
        self.cloud.db.write(lambda session: group_records.settle_group(session, group_id))

    def _make_storage(self, ctxt: RequestContext, volume: Volume, source: dict[str, Any]) -> dict[str, Any]:
        """Create the volume's storage from its source; returns the columns its final status sets."""
        if source.get("snapshot_id"):
            self.driver.create_volume_from_snapshot(str(source["snapshot_id"]), volume.id, volume.size)
            return {}
        if source.get("source_volid"):
            self.driver.clone_volume(str(source["source_volid"]), volume.id, volume.size)
            return {}
        if source.get("backup_id"):
            backup_id = str(source["backup_id"])
            try:
                self.driver.create_volume(volume.id, volume.size)
                self.data.restore_into(backup_id, volume.id, target_is_zeroed=True)
            finally:
                self.data.finish_restore_of_new_volume(backup_id)
            return {}
        self.driver.create_volume(volume.id, volume.size)
        if not source.get("image_id"):
            return {}
        image_id = str(source["image_id"])
        if not self.cloud.db.write(
            lambda session: states.change_status(session, volume.id, {states.CREATING}, states.DOWNLOADING)
        ):
            raise VolumeBusy(f"Volume {volume.id} left creating before its image was copied.")
        metadata = image_transfer.copy_image_to_volume(
            self.images, ctxt, image_id, self.driver, volume.id, self.scratch
        )
        return {"bootable": True, "image_metadata": metadata, "image_id": image_id}

    @rpc_method
    def delete_volume(self, ctxt: RequestContext, volume_id: str) -> None:
        volume = self._volume(volume_id)
        if volume is None or volume.status != states.DELETING:
            LOG.warning("not deleting volume %s: it is %s", volume_id, volume and volume.status)
            return
        try:
            for attachment_id in self._attachment_ids(volume_id):
                self.driver.unexport(attachment_id)
            # A cascading delete (cascade=true) moved the volume's snapshots to deleting with it.
            self.data.delete_snapshots_of(volume_id)
            self.driver.delete_volume(volume_id)
        except Exception as exc:
            LOG.exception("deleting volume %s failed", volume_id)
            reason = _reason(exc)

            def failed(session: Session) -> None:
                states.change_status(
                    session, volume_id, {states.DELETING}, states.ERROR_DELETING, fail_reason=reason
                )
                if volume.group_id is not None:
                    group_records.fail_group_delete(session, volume.group_id)

            self.cloud.db.write(failed)
            return
        deleted = self.notifier.payload("volume", volume_id)

        def remove_row(session: Session) -> bool:
            row = session.get(Volume, volume_id)
            if row is None or row.status != states.DELETING:
                return False
            release_volume(session, row)
            for table in (VolumeMetadata, VolumeAdminMetadata, VolumeAttachment):
                session.execute(delete(table).where(table.volume_id == volume_id))
            session.execute(delete(Volume).where(Volume.id == volume_id, Volume.status == states.DELETING))
            if row.group_id is not None:
                # A group deleted with its volumes goes with the last of them.
                group_records.remove_group_if_emptied(session, row.group_id, VolumeQuotaEngine())
            return True

        if not self.cloud.db.write(remove_row):
            LOG.warning("volume %s left deleting while its storage was removed", volume_id)
        else:
            self.notifier.send(ctxt, "volume.delete.end", deleted, status="deleted")
        self._report_quietly()

    @rpc_method
    def extend_volume(self, ctxt: RequestContext, volume_id: str, new_size: int) -> None:
        volume = self._volume(volume_id)
        if volume is None or volume.host != self.host:
            raise VolumeNotHere(f"Volume {volume_id} is not on volume host {self.host}.")
        if volume.status != states.EXTENDING:
            raise VolumeBusy(f"Volume {volume_id} is {volume.status}, not extending.")
        back_to = _settled_status(volume)
        try:
            self.driver.extend_volume(volume_id, new_size)
        except Exception as exc:
            LOG.exception("extending volume %s to %s GiB failed", volume_id, new_size)
            self._fail_extend(volume_id, new_size, _reason(exc))
            raise
        if self._finish(volume_id, {states.EXTENDING}, back_to, size=new_size, fail_reason=None):
            self.notifier.current(ctxt, "volume", volume_id, "resize.end")
        if back_to == states.IN_USE:
            self._tell_computes_of_new_size(ctxt, volume_id, new_size)
        self._report_quietly()

    def _fail_extend(self, volume_id: str, new_size: int, reason: str) -> None:
        """error_extending, and the gigabytes the API counted for the growth given back: the volume keeps
        its old size."""

        def write(session: Session) -> bool:
            row = session.get(Volume, volume_id)
            if row is None or not states.change_status(
                session, volume_id, {states.EXTENDING}, states.ERROR_EXTENDING, fail_reason=reason
            ):
                return False
            grown = new_size - row.size
            volume_type = session.get(VolumeType, row.volume_type_id)
            if grown > 0 and row.use_quota and volume_type is not None:
                deltas = {"gigabytes": grown, f"gigabytes_{volume_type.name}": grown}
                VolumeQuotaEngine().release(session, row.project_id, deltas)
            return True

        if not self.cloud.db.write(write):
            LOG.warning("volume %s was no longer extending: not set error_extending", volume_id)

    def _tell_computes_of_new_size(self, ctxt: RequestContext, volume_id: str, new_size: int) -> None:
        with self.cloud.db.reader() as session:
            attached = [
                (row.attached_host, row.instance_uuid)
                for row in session.scalars(
                    select(VolumeAttachment).where(
                        VolumeAttachment.volume_id == volume_id,
                        VolumeAttachment.attach_status == states.ATTACHED,
                    )
                )
                if row.attached_host and row.instance_uuid
            ]
        # The compute host resizes the guest's disk (QEMU's block_resize) now that the export serves the
        # new size.
        for host, instance_uuid in attached:
            self.compute.extend_volume(ctxt, host, instance_uuid, volume_id, new_size)

    @rpc_method
    def reimage_volume(self, ctxt: RequestContext, volume_id: str, image_id: str) -> None:
        """os-reimage (3.68): the image written over the volume, which keeps its size, type and id."""
        volume = self._volume(volume_id)
        if volume is None or volume.status != states.DOWNLOADING:
            LOG.warning("not reimaging volume %s: it is %s", volume_id, volume and volume.status)
            return
        back_to = states.RESERVED if volume.previous_status == states.RESERVED else states.AVAILABLE
        try:
            metadata = image_transfer.copy_image_to_volume(
                self.images, ctxt, image_id, self.driver, volume_id, self.scratch, target_is_zero=False
            )
        except Exception as exc:
            LOG.exception("reimaging volume %s with image %s failed", volume_id, image_id)
            self._finish(volume_id, {states.DOWNLOADING}, states.ERROR, fail_reason=_reason(exc))
            return
        self._finish(
            volume_id, {states.DOWNLOADING}, back_to,
            bootable=True, image_id=image_id, image_metadata=metadata, fail_reason=None,
        )  # fmt: skip

    @rpc_method
    def copy_volume_to_image(self, ctxt: RequestContext, volume_id: str, image_id: str) -> None:
        volume = self._volume(volume_id)
        if volume is None or volume.status != states.UPLOADING:
            LOG.warning("not uploading volume %s: it is %s", volume_id, volume and volume.status)
            return
        back_to = _settled_status(volume)
        try:
            disk_format = self.images.get(RequestContext.admin(), image_id).image.disk_format or "raw"
            image_transfer.upload_volume_to_image(
                self.images, self.driver, volume_id, image_id, disk_format, self.scratch
            )
        except Exception as exc:
            LOG.exception("uploading volume %s to image %s failed", volume_id, image_id)
            self._finish(volume_id, {states.UPLOADING}, back_to, fail_reason=_reason(exc))
            return
        self._finish(volume_id, {states.UPLOADING}, back_to)

    # --- RPC: connections -------------------------------------------------------------------------
    @rpc_method
    def initialize_connection(
        self, ctxt: RequestContext, volume_id: str, attachment_id: str, connector: dict[str, Any]
    ) -> dict[str, Any]:
        """Export the volume for the attachment and return Cinder's connection_info."""
        volume = self._volume(volume_id)
        if volume is None or volume.host != self.host:
            raise VolumeNotHere(f"Volume {volume_id} is not on volume host {self.host}.")
        with self.cloud.db.reader() as session:
            attachment = session.get(VolumeAttachment, attachment_id)
            mode = attachment.attach_mode if attachment is not None else "rw"
        read_only = volume.readonly or mode == "ro"
        info = self.driver.export(attachment_id, volume_id, connector, read_only=read_only)
        data = {
            **info["data"],
            "volume_id": volume_id,
            "access_mode": "ro" if read_only else "rw",
            "encrypted": False,
            "qos_specs": None,
        }
        return {"driver_volume_type": info["driver_volume_type"], "data": data}

    @rpc_method
    def terminate_connection(self, ctxt: RequestContext, volume_id: str, attachment_id: str) -> None:
        """Remove the attachment's export (absent is fine)."""
        self.driver.unexport(attachment_id)

    # --- helpers ----------------------------------------------------------------------------------
    def _volume(self, volume_id: str) -> Volume | None:
        with self.cloud.db.reader() as session:
            return session.get(Volume, volume_id)

    def _attachment_ids(self, volume_id: str) -> list[str]:
        with self.cloud.db.reader() as session:
            return list(
                session.scalars(select(VolumeAttachment.id).where(VolumeAttachment.volume_id == volume_id))
            )

    def _finish(self, volume_id: str, expected: Collection[str], new: str, **columns: Any) -> bool:
        changed: bool = self.cloud.db.write(
            lambda session: states.change_status(session, volume_id, expected, new, **columns)
        )
        if not changed:
            LOG.warning("volume %s was no longer %s: not set %s", volume_id, "/".join(expected), new)
        return changed

    def _finish_snapshot(self, snapshot_id: str, status: str, new: str) -> bool:
        def write(session: Session) -> bool:
            if not states.change_snapshot_status(session, snapshot_id, {status}, new):
                return False
            snapshot = session.get(Snapshot, snapshot_id)
            if snapshot is not None and snapshot.group_snapshot_id is not None:
                # A group snapshot waiting on this member settles (to error) with it.
                group_records.settle_group_snapshot(session, snapshot.group_snapshot_id)
            return True

        changed: bool = self.cloud.db.write(write)
        return changed

    def _report_quietly(self) -> None:
        """Placement sees a create or delete at once rather than at the next periodic report."""
        try:
            self.report_capacity()
        except Exception:
            LOG.exception("reporting the capacity of host %s failed", self.host)
