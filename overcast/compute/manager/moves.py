"""Compute service: cold resize and migration (source and destination halves, confirm, revert).

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

from overcast.compute import instance_extra, migrations, move_bookkeeping, network_info, states
from overcast.compute.manager import resize_transfer
from overcast.compute.manager.host import AfterSwap, HostEndpoint
from overcast.compute.manager.volumes import VolumeActions
from overcast.compute.move_bookkeeping import held as _held
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.manager import rpc_method
from overcast.placement.claims import release
from overcast.virt.driver import InstanceSpec

LOG = logging.getLogger(__name__)

def _flavor_columns(flavor: dict[str, Any]) -> dict[str, Any]:
    return {
        "flavor_id": flavor["flavorid"], "vcpus": flavor["vcpus"], "memory_mb": flavor["memory_mb"],
        "root_gb": flavor["root_gb"], "ephemeral_gb": flavor["ephemeral_gb"],
    }  # fmt: skip


class MoveActions(HostEndpoint):
    """The compute service's halves of a cold move (resize, migrate, confirm, revert): an additional
    RPC endpoint."""

    # The host's volume side (the manager sets it): the VM a move starts reconnects the server's volumes
    # for this host, whose initiator the volume host's targets must admit.
    volumes: VolumeActions | None = None

    def _with_volumes(self, ctxt: RequestContext, spec: InstanceSpec) -> InstanceSpec:
        if self.volumes is None or not spec.block_device_info:
            return spec
        return replace(spec, block_device_info=self.volumes.reconnect(ctxt, spec.uuid))

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
        meta = self.compute_host.sysmeta(instance_uuid)
        exported: dict[str, Any] = {}

        def work(instance: Instance) -> dict[str, Any]:
            self._move_status(instance_uuid, (migrations.PRE_MIGRATING,), migrations.MIGRATING)
            moved = self.driver.migrate_disk_and_power_off(
                ctxt, instance_uuid, self.compute_host.spec(instance, meta["new_flavor"])
            )
            if resize_transfer.crosses_hosts(self.cloud, self.host, dest_host):
                moved = resize_transfer.export_disk(
                    self.cloud, self.compute_host.image_cache, self.driver, instance, moved or {},
                    self.compute_host.upload_to,
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
            self.compute_host.compute_rpc.finish_resize(ctxt, dest_host, instance_uuid)
        else:
            resize_transfer.discard(self.compute_host.image_cache, exported)

    # --- resize: destination --------------------------------------------------------------------
    @rpc_method
    def finish_resize(self, ctxt: RequestContext, instance_uuid: str) -> None:
        meta = self.compute_host.sysmeta(instance_uuid)
        moved: dict[str, Any] = meta.get("resize_migration_data") or {}
        if not self.compute_host.advance(instance_uuid, states.RESIZE_MIGRATED, states.RESIZE_FINISH):
            current = self.compute_host.load(instance_uuid, on_this_host=False)
            if current is None or current.task_state != states.RESIZE_FINISH:
                resize_transfer.discard(self.compute_host.image_cache, moved)  # no finish will ever need it
            return
        dest = meta["resize_dest"]

        def work(instance: Instance) -> dict[str, Any]:
            power_on = meta.get("vm_state_before") != states.STOPPED
            spec = self.compute_host.spec(instance, meta["new_flavor"])
            data = resize_transfer.local_files(self.compute_host.image_cache, self.driver, moved)
            # The server's ports follow it here; without ports, a NIC of the driver's own when the
            # source's folder (and the NIC it recorded there) is out of reach.
            vifs = self.compute_host.ports.rebind(ctxt, instance_uuid)
            if vifs or data is not moved:
                spec = replace(spec, network_info=vifs or [network_info.default_vif(spec.uuid)])
            spec = self._with_volumes(ctxt, replace(spec, migration_data=data))
            spec = replace(spec, image=self.compute_host.with_kernel_files(ctxt, spec.image))
            self.driver.finish_migration(ctxt, spec, resize_instance=True, power_on=power_on)
            network = self.compute_host.guest_network(instance_uuid)  # another host forwards another SSH port
            record_network = self.compute_host.record_network
            self.cloud.db.write(lambda session: record_network(session, instance_uuid, network))
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
        # The disk is in place, or the move failed.
        resize_transfer.discard(self.compute_host.image_cache, moved)

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
        instance = self.compute_host.load(uuid, on_this_host=False)
        if instance is None or instance.task_state != expected:
            return False
        self.compute_host.notify(ctxt, uuid, f"{notify}.start")
        try:
            with self.compute_host.event(ctxt, uuid, event):
                values = work(instance)
        except Exception as exc:
            LOG.warning("[%s] Resize of instance %s failed: %s", ctxt.request_id, uuid, exc)
            meta = self.compute_host.sysmeta(uuid)
            dest = meta.get("resize_dest") or {}

            def give_back(session: Session) -> None:
                migrations.failed(session, uuid)
                if dest:
                    release(session, dest["host"], dest["node"], _held(meta["new_flavor"], dest))

            self.compute_host.action_failed(uuid, exc, (expected,), states.ERROR)
            self.cloud.db.write(give_back)
            self.compute_host.notify(ctxt, uuid, f"{notify}.error", exception=str(exc))
            return False
        values.setdefault("power_state", self.compute_host.power_state(uuid))
        swapped = self.compute_host.swap(uuid, (expected,), after, **values)
        self.compute_host.notify(ctxt, uuid, f"{notify}.end")
        return swapped

    # --- confirm (source) and revert (destination, then source) ---------------------------------
    @rpc_method
    def confirm_resize(self, ctxt: RequestContext, instance_uuid: str, done_vm_state: str) -> None:
        meta = self.compute_host.sysmeta(instance_uuid)
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
            move_bookkeeping.confirmed(session, self.compute_host.quotas, instance, meta)

        self.compute_host.run_action(
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
        meta = self.compute_host.sysmeta(instance_uuid)
        source, dest = meta["resize_source"], meta["resize_dest"]
        instance = self.compute_host.load(instance_uuid)
        if instance is None or instance.task_state != states.RESIZE_REVERTING:
            return
        self.compute_host.notify(ctxt, instance_uuid, "resize.revert.start")
        try:
            with self.compute_host.event(ctxt, instance_uuid, "compute_revert_resize"):
                if source["host"] != self.host:
                    self.driver.destroy(ctxt, instance_uuid)
        except Exception as exc:
            self.compute_host.action_failed(instance_uuid, exc, (states.RESIZE_REVERTING,), states.ERROR)
            self.cloud.db.write(lambda session: migrations.failed(session, instance_uuid))
            return
        self.cloud.db.write(
            lambda session: release(session, self.host, dest["node"], _held(meta["new_flavor"], dest))
        )
        self.compute_host.compute_rpc.finish_revert_resize(ctxt, source["host"], instance_uuid, done_vm_state)

    @rpc_method
    def finish_revert_resize(self, ctxt: RequestContext, instance_uuid: str, done_vm_state: str) -> None:
        meta = self.compute_host.sysmeta(instance_uuid)
        source = meta["resize_source"]

        def work(instance: Instance) -> dict[str, Any]:
            old_spec = self.compute_host.spec(instance, meta["old_flavor"])
            # The ports come back to this host (from the destination, whose VM is gone).
            vifs = self.compute_host.ports.rebind(ctxt, instance_uuid)
            if vifs:
                old_spec = replace(old_spec, network_info=vifs)
            old_spec = self._with_volumes(ctxt, old_spec)
            self.driver.finish_revert_migration(ctxt, old_spec, power_on=done_vm_state != states.STOPPED)
            return {"host": self.host, "node": source["node"], "devices": source.get("devices", []),
                    **_flavor_columns(meta["old_flavor"])}  # fmt: skip

        def after(session: Session, instance: Instance) -> None:
            move_bookkeeping.reverted(session, self.compute_host.quotas, instance, meta)

        self.compute_host.run_action(
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
