"""The server actions that move, rebuild, image, shelve or (soft-)delete a server; see actions.py."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, servicegroup
from overcast.cloud import Cloud
from overcast.compute import instance_actions as ia
from overcast.compute import instance_extra, instances, migrations, move_bookkeeping, states
from overcast.compute.api.actions import ActionAPI
from overcast.compute.api.keypairs import KeyPairAPI
from overcast.compute.api.lookup import id_from_ref, visible_flavor, visible_image, visible_instance
from overcast.compute.api.server_metadata import check_metadata, check_metadata_quota
from overcast.compute.api.server_queries import IMAGE_PROPERTIES_KEY, TRUSTED_CERTS_KEY
from overcast.compute.api.servers import ServerAPI, check_user_data, generate_password, shown_image_properties
from overcast.compute.api.user_quotas import user_usage
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY
from overcast.compute.snapshot_images import create_snapshot_image
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.compute import ComputeNode, Flavor, Instance
from overcast.db.models.service import ServiceRecord
from overcast.image.api import ImageAPI
from overcast.quota import QuotaEngine
from overcast.scheduler.request_spec import REQUESTED_DESTINATION_KEY

LOG = logging.getLogger(__name__)


def flavor_dict(flavor: Flavor) -> dict[str, Any]:
    return {
        "flavorid": flavor.flavorid, "name": flavor.name, "vcpus": flavor.vcpus,
        "memory_mb": flavor.memory_mb, "root_gb": flavor.root_gb, "ephemeral_gb": flavor.ephemeral_gb,
    }  # fmt: skip


def instance_flavor(instance: Instance) -> dict[str, Any]:
    return {
        "flavorid": instance.flavor_id, "vcpus": instance.vcpus, "memory_mb": instance.memory_mb,
        "root_gb": instance.root_gb, "ephemeral_gb": instance.ephemeral_gb,
    }  # fmt: skip


def _public_key(session: Session, ctxt: RequestContext, key_name: str) -> str:
    try:
        return KeyPairAPI.find(session, ctxt.user_id or "", key_name).public_key
    except errors.NotFound:
        raise errors.BadRequest("Invalid key_name provided.") from None


def compute_is_up(cloud: Cloud, session: Session, host: str) -> bool:
    record = session.scalars(
        select(ServiceRecord).where(ServiceRecord.host == host, ServiceRecord.binary == COMPUTE_BINARY)
    ).first()
    return record is not None and servicegroup.service_is_up(
        record, cloud.clock(), cloud.settings.service_down_time
    )


@dataclass(frozen=True)
class BackupRotation:
    """createBackup's type and how many backups of it the server keeps."""

    backup_type: str
    rotation: int


class ServerActionAPI(ActionAPI):
    def __init__(self, cloud: Cloud, quotas: QuotaEngine, servers: ServerAPI, images: ImageAPI) -> None:
        super().__init__(cloud, quotas, images)
        self.servers = servers

    # --- resize -----------------------------------------------------------------------------------
    def resize(self, ctxt: RequestContext, uuid: str, flavor_ref: str) -> None:
        flavorid = id_from_ref(flavor_ref)
        chosen: list[dict[str, Any]] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            try:
                flavor = visible_flavor(session, ctxt, flavorid)
            except errors.NotFound:
                raise errors.BadRequest("Unable to locate requested flavor.") from None
            if flavor.disabled:
                raise errors.BadRequest("Unable to locate requested flavor.")
            if flavor.flavorid == instance.flavor_id:
                raise errors.BadRequest("When resizing, instances must change flavor!")
            if flavor.root_gb and flavor.root_gb < instance.root_gb:
                raise errors.BadRequest("Resizing to a smaller disk flavor is not allowed.")
            chosen.append(self._begin_move(session, ctxt, instance, flavor_dict(flavor), migrations.RESIZE))

        self._start(ctxt, uuid, "resize", ia.RESIZE, prepare=prepare)
        self.conductor.migrate_server(ctxt, uuid, chosen[0])

    def migrate(self, ctxt: RequestContext, uuid: str, host: str | None = None) -> None:
        """Cold migration: a resize to the same flavor on another host (`host`, or the scheduler's)."""
        chosen: list[dict[str, Any]] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            if host is not None:
                if host == instance.host:
                    raise errors.BadRequest("Cannot migrate to the host where the server exists.")
                if session.scalars(select(ComputeNode.id).where(ComputeNode.host == host)).first() is None:
                    raise errors.BadRequest(f"Compute host {host} could not be found.")
            elif not self._other_hosts(session, instance.host):
                # Nova schedules a cold migration before it answers: no other host is its 400.
                raise errors.BadRequest("No valid host was found. No valid host found for cold migrate")
            chosen.append(self._begin_move(
                session, ctxt, instance, instance_flavor(instance), migrations.COLD_MIGRATION, host
            ))  # fmt: skip

        self._start(ctxt, uuid, "migrate", ia.MIGRATE, prepare=prepare)
        self.conductor.migrate_server(ctxt, uuid, chosen[0])

    def _other_hosts(self, session: Session, current: str | None) -> list[str]:
        """The enabled compute hosts that are up, but the server's own."""
        candidates = session.scalars(
            select(ServiceRecord.host).where(
                ServiceRecord.binary == COMPUTE_BINARY,
                ServiceRecord.disabled.is_(False),
                ServiceRecord.host != (current or ""),
            )
        )
        return [host for host in candidates if compute_is_up(self.cloud, session, host)]

    def _begin_move(
        self,
        session: Session,
        ctxt: RequestContext,
        instance: Instance,
        new_flavor: dict[str, Any],
        migration_type: str,
        requested_host: str | None = None,
    ) -> dict[str, Any]:
        """The bookkeeping of a move that starts (quota, system metadata, migration record)."""
        # Usage counts the larger of the two flavors until the resize is confirmed or reverted.
        grow = {"cores": max(0, new_flavor["vcpus"] - instance.vcpus),
                "ram": max(0, new_flavor["memory_mb"] - instance.memory_mb)}  # fmt: skip
        self.quotas.consume(session, instance.project_id, grow)
        owner = (instance.project_id, instance.user_id)
        self.quotas.check_user(session, *owner, grow, lambda: user_usage(session, *owner))
        instance_extra.update_system_metadata(
            session, instance.uuid, old_flavor=instance_flavor(instance), new_flavor=new_flavor,
            vm_state_before=instance.vm_state, resize_quota=grow,
            resize_source={"host": instance.host, "node": instance.node},
        )  # fmt: skip
        migrations.start(
            session, ctxt, instance, new_flavorid=new_flavor["flavorid"], migration_type=migration_type,
            requested_host=requested_host,
        )  # fmt: skip
        return new_flavor

    def confirm_resize(self, ctxt: RequestContext, uuid: str) -> None:
        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            migrations.advance(session, uuid, (migrations.FINISHED,), migrations.CONFIRMING)

        started = self._start(ctxt, uuid, "confirm_resize", ia.CONFIRM_RESIZE, prepare=prepare)
        with self.db.reader() as session:
            source = instance_extra.system_metadata(session, uuid).get("resize_source") or {}
        self.compute_rpc.confirm_resize(
            ctxt, source.get("host") or started.host, uuid, started.transition.done_vm_state
        )

    def revert_resize(self, ctxt: RequestContext, uuid: str) -> None:
        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            migrations.advance(session, uuid, (migrations.FINISHED,), migrations.REVERTING)

        started = self._start(ctxt, uuid, "revert_resize", ia.REVERT_RESIZE, prepare=prepare)
        self.compute_rpc.revert_resize(ctxt, started.host, uuid, started.transition.done_vm_state)

    # --- rebuild ----------------------------------------------------------------------------------
    def rebuild(
        self,
        ctxt: RequestContext,
        uuid: str,
        image_ref: str,
        *,
        name: str | None = None,
        admin_password: str | None = None,
        metadata: dict[str, str] | None = None,
        access_ip_v4: str | None = None,
        access_ip_v6: str | None = None,
        optional: dict[str, Any] | None = None,
        volume_backed_ok: bool = False,
    ) -> str:
        """`optional` holds what the request named of description, key_name, user_data, hostname and
        trusted_image_certificates (null clears). `volume_backed_ok` (2.93): a volume-backed server is
        rebuilt by reimaging its root volume (its image_ref stays empty: it still boots from the volume)."""
        password = admin_password or generate_password()
        named = dict(optional or {})
        if named.get("user_data") is not None:
            check_user_data(str(named["user_data"]))

        reimaged: list[str] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> dict[str, Any]:
            if not instance.image_ref and not volume_backed_ok:
                raise errors.BadRequest(f"Cannot rebuild a volume-backed instance {uuid}.")
            image = visible_image(session, ctxt, image_ref)
            if instance.memory_mb < image.min_ram:
                raise errors.BadRequest("Flavor's memory is too small for requested image.")
            if instance.root_gb and instance.root_gb < image.min_disk:
                raise errors.BadRequest("Flavor's disk is too small for requested image.")
            values: dict[str, Any] = {"image_ref": image.id}
            if not instance.image_ref:
                reimaged.append(image.id)
                values = {}
            if name is not None:
                values["display_name"] = name
            if metadata is not None:
                check_metadata(metadata)
                check_metadata_quota(self.quotas, session, instance.project_id, metadata)
                values["metadata_items"] = dict(metadata)
            if access_ip_v4 is not None:
                values["access_ip_v4"] = access_ip_v4
            if access_ip_v6 is not None:
                values["access_ip_v6"] = access_ip_v6
            if "description" in named:
                values["description"] = named["description"]
            if "user_data" in named:
                values["user_data"] = named["user_data"]
            if "key_name" in named:
                key_name = named["key_name"]
                values["key_name"] = key_name
                values["key_data"] = None if key_name is None else _public_key(session, ctxt, key_name)
            if named.get("hostname") is not None:
                values["hostname"] = named["hostname"]
            kept: dict[str, Any] = {
                IMAGE_PROPERTIES_KEY: shown_image_properties(dict(image.properties or {}))
            }
            if "trusted_image_certificates" in named:
                kept[TRUSTED_CERTS_KEY] = named["trusted_image_certificates"]
            instance_extra.update_system_metadata(session, uuid, **kept)
            return values

        started = self._start(ctxt, uuid, "rebuild", ia.REBUILD, prepare=prepare)
        self.compute_rpc.rebuild_instance(
            ctxt, started.host, uuid, password, started.transition.done_vm_state,
            reimage_image_id=reimaged[0] if reimaged else None,
        )  # fmt: skip
        return password

    # --- images -----------------------------------------------------------------------------------
    def create_image(
        self,
        ctxt: RequestContext,
        uuid: str,
        name: str,
        metadata: dict[str, str] | None = None,
        *,
        backup: BackupRotation | None = None,
    ) -> str:
        """createImage, or createBackup given its rotation (the compute host rotates once uploaded)."""
        if metadata:
            check_metadata(metadata)
        volumes = self.servers.volume_attachments
        volume_backed = volumes and volumes.snapshot_server(ctxt, uuid, name, metadata, self.images)
        if volume_backed:
            return volume_backed
        image_ids: list[str] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            image_ids.append(create_snapshot_image(session, self.images, ctxt, instance, name, metadata))

        # Nova does not check the lock for snapshots: a locked server may still be backed up.
        record = ia.BACKUP if backup else ia.CREATE_IMAGE
        started = self._start(ctxt, uuid, "create_image", record, check_lock=False, prepare=prepare)
        if backup:
            self.compute_rpc.backup_instance(
                ctxt, started.host, uuid, image_ids[0], backup.backup_type, backup.rotation
            )
        else:
            self.compute_rpc.snapshot_instance(ctxt, started.host, uuid, image_ids[0])
        return image_ids[0]

    # --- shelve -----------------------------------------------------------------------------------
    def shelve(self, ctxt: RequestContext, uuid: str) -> None:
        image_ids: list[str] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            image_id = create_snapshot_image(
                session, self.images, ctxt, instance, f"{instance.display_name}-shelved"
            )
            instance_extra.update_system_metadata(session, uuid, shelved_image_id=image_id)
            image_ids.append(image_id)

        started = self._start(ctxt, uuid, "shelve", ia.SHELVE, prepare=prepare)
        offload = self.cloud.settings.shelved_offload_time == 0
        self.compute_rpc.shelve_instance(ctxt, started.host, uuid, image_ids[0], offload=offload)

    def shelve_offload(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "shelve_offload", ia.SHELVE_OFFLOAD)
        self.compute_rpc.shelve_offload_instance(ctxt, started.host, uuid)

    def unshelve(
        self, ctxt: RequestContext, uuid: str, zone: str | None = None, *, unpin: bool = False,
        host: str | None = None,
    ) -> None:  # fmt: skip
        """Unshelve; 2.77's zone pins an offloaded server to that zone, 2.91's `unpin` (a null zone) frees
        it to land in any, and 2.91's `host` (admins) names where it lands (all only for an offloaded
        server, as in Nova)."""

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> dict[str, Any]:
            if zone is None and not unpin and host is None:
                return {}
            if instance.vm_state != states.SHELVED_OFFLOADED:
                raise errors.Conflict(
                    f"The server {uuid} is not shelved offloaded: a zone or host cannot be given."
                )
            values: dict[str, Any] = {}
            if zone is not None or unpin:
                ServerAPI.check_zone(session, zone)
                values["availability_zone"] = zone
            if host is not None:
                found = session.scalars(select(ComputeNode.id).where(ComputeNode.host == host)).first()
                if found is None:
                    raise errors.BadRequest(f"Compute host {host} could not be found.")
            # The create's destination (2.74) does not follow the server out of its shelf; a named host does.
            instance_extra.update_system_metadata(
                session, uuid, **{REQUESTED_DESTINATION_KEY: {"host": host, "node": None} if host else None}
            )
            return values

        self._start(ctxt, uuid, "unshelve", ia.UNSHELVE, needs_host=False, prepare=prepare)
        self.conductor.unshelve_instance(ctxt, uuid)

    # --- delete, soft delete, restore -------------------------------------------------------------
    def delete(self, ctxt: RequestContext, uuid: str) -> None:
        """DELETE /servers/{id}: soft when reclaim_instance_interval > 0 and the host can power it off."""
        self._confirm_before_delete(ctxt, uuid)
        if self.cloud.settings.reclaim_instance_interval > 0 and self._soft_delete(ctxt, uuid):
            return
        self.servers.delete(ctxt, uuid)

    def _soft_delete(self, ctxt: RequestContext, uuid: str) -> bool:
        with self.db.reader() as session:
            instance = visible_instance(session, ctxt, uuid)
            placed_and_up = instance.host is not None and compute_is_up(self.cloud, session, instance.host)
        if not placed_and_up:
            return False  # nobody could power it off: delete it for good, as Nova's local delete does

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> dict[str, Any]:
            instance_extra.ensure_terminable(session, instance)
            return {"deleted_at": utcnow()}

        started = self._start(ctxt, uuid, "soft_delete", ia.DELETE, prepare=prepare)
        self.compute_rpc.soft_delete_instance(ctxt, started.host, uuid)
        return True

    def force_delete(self, ctxt: RequestContext, uuid: str) -> None:
        self._confirm_before_delete(ctxt, uuid)
        self.servers.delete(ctxt, uuid, record_as=ia.FORCE_DELETE)

    def restore(self, ctxt: RequestContext, uuid: str) -> None:
        def prepare(session: Session, instance: Instance, transition: states.Transition) -> dict[str, Any]:
            return {"deleted_at": None}

        started = self._start(ctxt, uuid, "restore", ia.RESTORE, prepare=prepare)
        self.compute_rpc.restore_instance(ctxt, started.host, uuid)

    def _confirm_before_delete(self, ctxt: RequestContext, uuid: str) -> None:
        """Nova's confirm-on-delete: a server awaiting confirmation is confirmed first, so the source
        host drops the disks it set aside and gives back its claim before the server goes."""

        def write(session: Session) -> tuple[str, str, bool] | None:
            instance = visible_instance(session, ctxt, uuid)
            awaiting = instance.vm_state == states.RESIZED
            if not awaiting or instance.task_state not in (None, states.RESIZE_CONFIRMING):
                return None
            instance_extra.ensure_unlocked(session, ctxt, instance)
            meta = instance_extra.system_metadata(session, uuid)
            source = (meta.get("resize_source") or {}).get("host")
            if source is None:
                return None
            before = meta.get("vm_state_before")
            confirm = states.check_action("confirm_resize", states.RESIZED, None, vm_state_before=before)
            done_vm_state = confirm.done_vm_state
            if instance.task_state is None:  # else a confirm is on its way: make sure it is done
                if not instances.compare_and_swap(
                    session, uuid, (None,), expected_vm_state=(states.RESIZED,),
                    task_state=states.RESIZE_CONFIRMING,
                ):  # fmt: skip
                    return None
                migrations.advance(session, uuid, (migrations.FINISHED,), migrations.CONFIRMING)
                ia.record_action(session, ctxt, uuid, ia.CONFIRM_RESIZE)
            return source, done_vm_state, compute_is_up(self.cloud, session, source)

        found = self.db.write(write)
        if found is None:
            return
        source, done, source_up = found
        if not source_up:
            # Nobody can drop the set-aside disks; the source's claim and the move's quota still go.
            self.db.write(
                lambda session: move_bookkeeping.confirm_without_source(session, self.quotas, uuid, done)
            )
            return
        try:
            self.compute_rpc.confirm_resize(ctxt, source, uuid, done, wait=True)
        except Exception as exc:  # the delete goes ahead: it is the user's way out of any state
            LOG.warning(
                "[%s] Confirming the resize of %s before deleting it failed: %s", ctxt.request_id, uuid, exc
            )
