"""The server actions that move, rebuild, image, shelve or (soft-)delete a server; see actions.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import errors, servicegroup
from overcast.cloud import Cloud
from overcast.compute import instance_actions as ia
from overcast.compute import instance_extra, states
from overcast.compute.actions import ActionAPI, visible_image, visible_instance
from overcast.compute.api import COMPUTE_BINARY, ServerAPI, check_user_data, generate_password
from overcast.compute.flavors import FlavorAPI
from overcast.compute.keypairs import KeyPairAPI
from overcast.compute.server_metadata import check_metadata, check_metadata_quota
from overcast.compute.snapshot_images import create_snapshot_image
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.compute import Flavor, Instance
from overcast.db.models.service import ServiceRecord
from overcast.quota import QuotaEngine


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


class ServerActionAPI(ActionAPI):
    def __init__(self, cloud: Cloud, quotas: QuotaEngine, servers: ServerAPI) -> None:
        super().__init__(cloud, quotas)
        self.servers = servers

    # --- resize -----------------------------------------------------------------------------------
    def resize(self, ctxt: RequestContext, uuid: str, flavor_ref: str) -> None:
        flavorid = flavor_ref.rstrip("/").rsplit("/", 1)[-1]
        chosen: list[dict[str, Any]] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            try:
                flavor = FlavorAPI._visible(session, ctxt, flavorid)
            except errors.NotFound:
                raise errors.BadRequest("Unable to locate requested flavor.") from None
            if flavor.disabled:
                raise errors.BadRequest("Unable to locate requested flavor.")
            if flavor.flavorid == instance.flavor_id:
                raise errors.BadRequest("When resizing, instances must change flavor!")
            if flavor.root_gb and flavor.root_gb < instance.root_gb:
                raise errors.BadRequest("Resizing to a smaller disk flavor is not allowed.")
            # Usage counts the larger of the two flavors until the resize is confirmed or reverted.
            grow = {"cores": max(0, flavor.vcpus - instance.vcpus),
                    "ram": max(0, flavor.memory_mb - instance.memory_mb)}  # fmt: skip
            self.quotas.consume(session, instance.project_id, grow)
            instance_extra.update_system_metadata(
                session, uuid, old_flavor=instance_flavor(instance), new_flavor=flavor_dict(flavor),
                vm_state_before=instance.vm_state, resize_quota=grow,
                resize_source={"host": instance.host, "node": instance.node},
            )  # fmt: skip
            chosen.append(flavor_dict(flavor))

        self._start(ctxt, uuid, "resize", ia.RESIZE, prepare=prepare)
        self.conductor.migrate_server(ctxt, uuid, chosen[0])

    def confirm_resize(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "confirm_resize", ia.CONFIRM_RESIZE)
        with self.db.reader() as session:
            source = instance_extra.system_metadata(session, uuid).get("resize_source") or {}
        self.compute_rpc.confirm_resize(
            ctxt, source.get("host") or started.host, uuid, started.transition.done_vm_state
        )

    def revert_resize(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "revert_resize", ia.REVERT_RESIZE)
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
        optional: dict[str, str | None] | None = None,
    ) -> str:
        """`optional` holds what the request named of description, key_name and user_data (null clears)."""
        password = admin_password or generate_password()
        named = dict(optional or {})
        if named.get("user_data") is not None:
            check_user_data(str(named["user_data"]))

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> dict[str, Any]:
            image = visible_image(session, ctxt, image_ref)
            if instance.memory_mb < image.min_ram:
                raise errors.BadRequest("Flavor's memory is too small for requested image.")
            if instance.root_gb and instance.root_gb < image.min_disk:
                raise errors.BadRequest("Flavor's disk is too small for requested image.")
            values: dict[str, Any] = {"image_ref": image.id}
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
            return values

        started = self._start(ctxt, uuid, "rebuild", ia.REBUILD, prepare=prepare)
        self.compute_rpc.rebuild_instance(
            ctxt, started.host, uuid, password, started.transition.done_vm_state
        )
        return password

    # --- images -----------------------------------------------------------------------------------
    def create_image(
        self, ctxt: RequestContext, uuid: str, name: str, metadata: dict[str, str] | None = None
    ) -> str:
        if metadata:
            check_metadata(metadata)
        image_ids: list[str] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            image_ids.append(create_snapshot_image(session, self.images, ctxt, instance, name, metadata))

        # Nova does not check the lock for snapshots: a locked server may still be backed up.
        started = self._start(ctxt, uuid, "create_image", ia.CREATE_IMAGE, check_lock=False, prepare=prepare)
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

    def unshelve(self, ctxt: RequestContext, uuid: str) -> None:
        self._start(ctxt, uuid, "unshelve", ia.UNSHELVE, needs_host=False)
        self.conductor.unshelve_instance(ctxt, uuid)

    # --- delete, soft delete, restore -------------------------------------------------------------
    def delete(self, ctxt: RequestContext, uuid: str) -> None:
        """DELETE /servers/{id}: soft when reclaim_instance_interval > 0 and the host can power it off."""
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
            return {"deleted_at": utcnow()}

        started = self._start(ctxt, uuid, "soft_delete", ia.DELETE, prepare=prepare)
        self.compute_rpc.soft_delete_instance(ctxt, started.host, uuid)
        return True

    def force_delete(self, ctxt: RequestContext, uuid: str) -> None:
        self.servers.delete(ctxt, uuid, record_as=ia.FORCE_DELETE)

    def restore(self, ctxt: RequestContext, uuid: str) -> None:
        def prepare(session: Session, instance: Instance, transition: states.Transition) -> dict[str, Any]:
            return {"deleted_at": None}

        started = self._start(ctxt, uuid, "restore", ia.RESTORE, prepare=prepare)
        self.compute_rpc.restore_instance(ctxt, started.host, uuid)
