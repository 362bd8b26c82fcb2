"""Compute manager: cold resize (source and destination halves), rebuild, snapshot, shelve, unshelve.

Resize: the conductor reserves the destination and casts `resize_instance` to the source, which powers
the VM off and sets its disks aside, then casts `finish_resize` to the destination, which brings the VM
up with the new flavor (VERIFY_RESIZE); to another host the disk travels as a transfer image
(`resize_transfer.py`). Confirm drops the source's disks and its claim; revert destroys
the new VM on the destination and restores the old one on the source.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from sqlalchemy.orm import Session

from overcast.compute import (
    instance_extra,
    migrations,
    move_bookkeeping,
    network_info,
    resize_transfer,
    states,
)
from overcast.compute.manager_base import CLEAN_SHUTDOWN_TIMEOUT, AfterSwap, ComputeManagerBase
from overcast.compute.move_bookkeeping import held as _held
from overcast.compute.resource_tracker import Resources, release
from overcast.compute.snapshot_images import delete_snapshot_image
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.compute import Instance
from overcast.manager import rpc_method
from overcast.virt.driver import PowerState

LOG = logging.getLogger(__name__)

def _flavor_columns(flavor: dict[str, Any]) -> dict[str, Any]:
    return {
        "flavor_id": flavor["flavorid"], "vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"],
        "root_gb": flavor["root_gb"], "ephemeral_gb": flavor["ephemeral_gb"],
    }  # fmt: skip


class MoveActionsMixin(ComputeManagerBase):
    def _sysmeta(self, uuid: str) -> dict[str, Any]:
        with self.cloud.db.reader() as session:
            return instance_extra.system_metadata(session, uuid)

    def _move_status(self, uuid: str, expected: tuple[str, ...], status: str, **values: Any) -> None:
        self.cloud.db.write(lambda session: migrations.advance(session, uuid, expected, status, **values))

    @staticmethod
    def _move_advanced(uuid: str, expected: str, status: str, **values: Any) -> AfterSwap:
        def after(session: Session, instance: Instance) -> None:
            migrations.advance(session, uuid, (expected,), status, **values)

        return after

    def _erring(self, uuid: str, work: Any) -> Any:
        """`work` that puts the move in error when it fails (the instance's own failure is the caller's)."""

        def run(instance: Instance) -> Any:
            try:
                return work(instance)
            except Exception:
                self.cloud.db.write(lambda session: migrations.failed(session, uuid))
                raise

        return run

    # --- resize: source -------------------------------------------------------------------------
    @rpc_method
    def resize_instance(
        self, ctxt: RequestContext, instance_uuid: str, dest_host: str, dest_node: str
    ) -> None:
        meta = self._sysmeta(instance_uuid)
        exported: dict[str, Any] = {}

        def work(instance: Instance) -> dict[str, Any]:
            self._move_status(instance_uuid, (migrations.PRE_MIGRATING,), migrations.MIGRATING)
            moved = self.driver.migrate_disk_and_power_off(
                ctxt, instance_uuid, self._spec(instance, meta["new_flavor"])
            )
            if resize_transfer.crosses_hosts(self.cloud, self.host, dest_host):
                moved = resize_transfer.export_disk(
                    self.cloud, self.image_cache, self.driver, instance, moved or {}, self._upload_to
                )
                exported.update(moved)
            # Where the source set the disks aside, for the destination's finish_migration.
            self.cloud.db.write(lambda session: instance_extra.update_system_metadata(
                session, instance_uuid, resize_migration_data=moved or None
            ))  # fmt: skip
            return {"task_state": states.RESIZE_MIGRATED, "vm_state": instance.vm_state}

        moved = self._resize_step(
            ctxt,
            instance_uuid,
            expected=states.RESIZE_MIGRATING,
            event="compute_resize_instance",
            notify="resize",
            work=work,
            after=self._move_advanced(instance_uuid, migrations.MIGRATING, migrations.POST_MIGRATING),
        )
        if moved:
            self.compute_rpc.finish_resize(ctxt, dest_host, instance_uuid)
        else:
            resize_transfer.discard(self.image_cache, exported)

    # --- resize: destination --------------------------------------------------------------------
    @rpc_method
    def finish_resize(self, ctxt: RequestContext, instance_uuid: str) -> None:
        meta = self._sysmeta(instance_uuid)
        moved: dict[str, Any] = meta.get("resize_migration_data") or {}
        if not self._advance(instance_uuid, states.RESIZE_MIGRATED, states.RESIZE_FINISH):
            current = self._load(instance_uuid, on_this_host=False)
            if current is None or current.task_state != states.RESIZE_FINISH:
                resize_transfer.discard(self.image_cache, moved)  # no finish will ever need it
            return
        dest = meta["resize_dest"]

        def work(instance: Instance) -> dict[str, Any]:
            power_on = meta.get("vm_state_before") != states.STOPPED
            spec = self._spec(instance, meta["new_flavor"])
            data = resize_transfer.local_files(self.image_cache, self.driver, moved)
            if data is not moved:  # the source's folder is out of reach: so is the NIC it recorded there
                spec = replace(spec, network_info=spec.network_info or [network_info.default_vif(spec.uuid)])
            spec = replace(spec, migration_data=data)
            self.driver.finish_migration(ctxt, spec, resize_instance=True, power_on=power_on)
            network = self._network_info(instance_uuid)  # another host forwards another SSH port
            self.cloud.db.write(lambda session: self._record_network(session, instance_uuid, network))
            return {
                "vm_state": states.RESIZED, "task_state": None, "host": self.host, "node": dest["node"],
                "devices": dest.get("devices", []), **_flavor_columns(meta["new_flavor"]),
            }  # fmt: skip

        self._resize_step(
            ctxt,
            instance_uuid,
            expected=states.RESIZE_FINISH,
            event="compute_finish_resize",
            notify="finish_resize",
            work=work,
            # Nova's dest_host is the destination's address (my_ip): the one the API reaches it at.
            after=self._move_advanced(
                instance_uuid, migrations.POST_MIGRATING, migrations.FINISHED,
                dest_host=self.cloud.settings.serial_console.proxyclient_address,
            ),
        )
        resize_transfer.discard(self.image_cache, moved)  # the disk is in place, or the move failed

    def _resize_step(
        self,
        ctxt: RequestContext,
        uuid: str,
        *,
        expected: str,
        event: str,
        notify: str,
        work: Any,
        after: AfterSwap | None = None,
    ) -> bool:
        """One half of a resize; a failure leaves the instance ERROR and gives the destination back."""
        instance = self._load(uuid, on_this_host=False)
        if instance is None or instance.task_state != expected:
            return False
        self._notify(ctxt, uuid, f"{notify}.start")
        try:
            with self._event(ctxt, uuid, event):
                values = work(instance)
        except Exception as exc:
            LOG.warning("[%s] Resize of instance %s failed: %s", ctxt.request_id, uuid, exc)
            meta = self._sysmeta(uuid)
            dest = meta.get("resize_dest") or {}

            def give_back(session: Session) -> None:
                migrations.failed(session, uuid)
                if dest:
                    release(session, dest["host"], dest["node"], _held(meta["new_flavor"], dest))

            self._action_failed(uuid, exc, (expected,), states.ERROR)
            self.cloud.db.write(give_back)
            self._notify(ctxt, uuid, f"{notify}.error", exception=str(exc))
            return False
        values.setdefault("power_state", self._power_state(uuid))
        swapped = self._swap(uuid, (expected,), after, **values)
        self._notify(ctxt, uuid, f"{notify}.end")
        return swapped

    # --- confirm (source) and revert (destination, then source) ---------------------------------
    @rpc_method
    def confirm_resize(self, ctxt: RequestContext, instance_uuid: str, done_vm_state: str) -> None:
        meta = self._sysmeta(instance_uuid)
        if not meta.get("resize_source"):
            return  # already confirmed (a delete confirms a confirm that is still on its way)

        def confirm(instance: Instance) -> dict[str, Any]:
            self.driver.confirm_migration(ctxt, instance_uuid)
            # The VM runs on the destination, which set its power state: this host (the source) has none.
            return {"power_state": instance.power_state}

        def after(session: Session, instance: Instance) -> None:
            if (meta.get("resize_dest") or {}).get("host") != self.host:
                # The VM runs on the destination: what the source (no VM now) said of its network is moot.
                key = network_info.SYSTEM_METADATA_KEY
                instance_extra.update_system_metadata(session, instance_uuid, **{key: meta.get(key)})
            move_bookkeeping.confirmed(session, self.quotas, instance, meta)

        self._run_action(
            ctxt,
            instance_uuid,
            "confirm_resize",
            event="compute_confirm_resize",
            notify="resize.confirm",
            work=self._erring(instance_uuid, confirm),
            done_vm_state=done_vm_state,
            on_this_host=False,
            after=after,
            error_vm_state=states.ERROR,
        )

    @rpc_method
    def revert_resize(self, ctxt: RequestContext, instance_uuid: str, done_vm_state: str) -> None:
        meta = self._sysmeta(instance_uuid)
        source, dest = meta["resize_source"], meta["resize_dest"]
        instance = self._load(instance_uuid)
        if instance is None or instance.task_state != states.RESIZE_REVERTING:
            return
        self._notify(ctxt, instance_uuid, "resize.revert.start")
        try:
            with self._event(ctxt, instance_uuid, "compute_revert_resize"):
                if source["host"] != self.host:
                    self.driver.destroy(ctxt, instance_uuid)
        except Exception as exc:
            self._action_failed(instance_uuid, exc, (states.RESIZE_REVERTING,), states.ERROR)
            self.cloud.db.write(lambda session: migrations.failed(session, instance_uuid))
            return
        self.cloud.db.write(
            lambda session: release(session, self.host, dest["node"], _held(meta["new_flavor"], dest))
        )
        self.compute_rpc.finish_revert_resize(ctxt, source["host"], instance_uuid, done_vm_state)

    @rpc_method
    def finish_revert_resize(self, ctxt: RequestContext, instance_uuid: str, done_vm_state: str) -> None:
        meta = self._sysmeta(instance_uuid)
        source = meta["resize_source"]

        def work(instance: Instance) -> dict[str, Any]:
            old_spec = self._spec(instance, meta["old_flavor"])
            self.driver.finish_revert_migration(ctxt, old_spec, power_on=done_vm_state != states.STOPPED)
            return {"host": self.host, "node": source["node"], "devices": source.get("devices", []),
                    **_flavor_columns(meta["old_flavor"])}  # fmt: skip

        def after(session: Session, instance: Instance) -> None:
            move_bookkeeping.reverted(session, self.quotas, instance, meta)

        self._run_action(
            ctxt,
            instance_uuid,
            "revert_resize",
            event="compute_finish_revert_resize",
            notify="resize.revert",
            work=self._erring(instance_uuid, work),
            done_vm_state=done_vm_state,
            on_this_host=False,
            after=after,
            error_vm_state=states.ERROR,
        )

    # --- rebuild ----------------------------------------------------------------------------------
    @rpc_method
    def rebuild_instance(
        self, ctxt: RequestContext, instance_uuid: str, admin_password: str, done_vm_state: str
    ) -> None:
        def work(instance: Instance) -> dict[str, Any]:
            self._advance(instance_uuid, states.REBUILDING, states.REBUILD_BLOCK_DEVICE_MAPPING)
            self.driver.destroy(ctxt, instance_uuid)
            self._advance(instance_uuid, states.REBUILD_BLOCK_DEVICE_MAPPING, states.REBUILD_SPAWNING)
            self.driver.spawn(ctxt, self._prepared(ctxt, self._spec(instance)), admin_password)
            if done_vm_state == states.STOPPED:
                self.driver.power_off(ctxt, instance_uuid, CLEAN_SHUTDOWN_TIMEOUT)
            return {"launched_at": utcnow()}

        self._run_action(
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
        def uploading() -> None:
            self._advance(instance_uuid, states.IMAGE_SNAPSHOT, states.IMAGE_PENDING_UPLOAD)
            self._advance(instance_uuid, states.IMAGE_PENDING_UPLOAD, states.IMAGE_UPLOADING)

        def work(instance: Instance) -> None:
            self._advance(instance_uuid, states.IMAGE_SNAPSHOT_PENDING, states.IMAGE_SNAPSHOT)
            self.driver.snapshot(ctxt, instance_uuid, image_id, self._upload_to(image_id, uploading))

        done = self._run_action(
            ctxt,
            instance_uuid,
            "create_image",
            event="compute_snapshot_instance",
            notify="snapshot",
            work=work,
        )
        if not done:
            delete_snapshot_image(self.image_cache.image_api, image_id)

    # --- shelve -----------------------------------------------------------------------------------
    @rpc_method
    def shelve_instance(self, ctxt: RequestContext, instance_uuid: str, image_id: str, offload: bool) -> None:
        def uploading() -> None:
            self._advance(
                instance_uuid, states.SHELVING_IMAGE_PENDING_UPLOAD, states.SHELVING_IMAGE_UPLOADING
            )

        def work(instance: Instance) -> dict[str, Any]:
            self._advance(instance_uuid, states.SHELVING, states.SHELVING_IMAGE_PENDING_UPLOAD)
            self.driver.snapshot(ctxt, instance_uuid, image_id, self._upload_to(image_id, uploading))
            self.driver.power_off(ctxt, instance_uuid, CLEAN_SHUTDOWN_TIMEOUT)
            return {}

        def after(session: Session, instance: Instance) -> None:
            instance_extra.update_system_metadata(session, instance_uuid, shelved_at=utcnow().isoformat())

        shelved = self._run_action(
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
            and self._swap(
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
        instance = self._load(instance_uuid)
        if instance is not None:
            held.update(node=instance.node, resources=Resources.of(instance))

        def after(session: Session, offloaded: Instance) -> None:
            if held:
                release(session, self.host, held["node"], held["resources"])

        self._run_action(
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
        instance = self._load(instance_uuid)
        if instance is None:
            return
        image_id = self._sysmeta(instance_uuid).get("shelved_image_id")
        if instance.vm_state == states.SHELVED:
            work: Any = lambda current: self.driver.power_on(ctxt, instance_uuid)  # noqa: E731
        else:
            if not self._advance(instance_uuid, states.SCHEDULING, states.SPAWNING):
                return

            def work(current: Instance) -> dict[str, Any]:
                self.driver.spawn(ctxt, self._prepared(ctxt, self._spec(current, image_id=image_id)))
                return {"launched_at": utcnow()}

        def after(session: Session, unshelved: Instance) -> None:
            instance_extra.update_system_metadata(
                session, instance_uuid, shelved_image_id=None, shelved_at=None
            )

        done = self._run_action(
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
            delete_snapshot_image(self.image_cache.image_api, image_id)
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
