"""Server actions as the compute API starts them (POST /servers/{id}/action and friends).

Every state-changing action goes through `ActionAPI._start`, in one write transaction: the caller must
see the server, a locked server refuses non-admins, `states.check_action` guards the (vm_state,
task_state) pair, a compare-and-swap sets the action's task_state, and the instance action is recorded.
The work itself is then cast to the server's compute host (or to the conductor for resize and
unshelve), which finishes the transition. Resize, rebuild, snapshot, shelve and soft delete are in
`actions_lifecycle.py`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from overcast import errors, policy
from overcast.cloud import Cloud
from overcast.compute import block_device_mappings, instance_extra, instances, policies, states
from overcast.compute import instance_actions as ia
from overcast.compute.api.lookup import visible_image, visible_instance
from overcast.compute.api.server_queries import LOCKED_REASON_KEY
from overcast.compute.api.servers import generate_password
from overcast.compute.rpcapi import ComputeAPI
from overcast.conductor.rpcapi import ConductorAPI
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.models.compute import Instance
from overcast.image.api import ImageAPI
from overcast.quota import QuotaEngine

LOG = logging.getLogger(__name__)

# What os-resetState accepts, and the vm_state each means.
RESET_STATES = {"active": states.ACTIVE, "error": states.ERROR}

Prepare = Callable[[Session, Instance, states.Transition], dict[str, Any] | None]


@dataclass(frozen=True)
class Started:
    """An action that started: the instance as it was read, and where it goes."""

    instance: Instance
    transition: states.Transition

    @property
    def uuid(self) -> str:
        return self.instance.uuid

    @property
    def host(self) -> str:
        if self.instance.host is None:
            raise errors.Conflict(f"Instance {self.instance.uuid} is not ready: it has no host yet.")
        return self.instance.host


class ActionAPI:
    def __init__(self, cloud: Cloud, quotas: QuotaEngine, images: ImageAPI) -> None:
        self.cloud = cloud
        self.db = cloud.db
        self.quotas = quotas
        # Snapshots are images, made and counted like any other.
        self.images = images
        self.compute_rpc = ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)
        self.conductor = ConductorAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)

    # --- the one way an action starts -------------------------------------------------------------
    def _start(
        self,
        ctxt: RequestContext,
        uuid: str,
        action: str,
        record_as: str,
        *,
        check_lock: bool = True,
        needs_host: bool = True,
        prepare: Prepare | None = None,
    ) -> Started:
        """Guard, compare-and-swap and record `action` in one transaction; raise Conflict if it cannot start.

        `prepare` runs inside the transaction after the guard and returns extra column values for the
        compare-and-swap (it may also write related rows: quota, extras, images).
        """

        def write(session: Session) -> Started:
            instance = visible_instance(session, ctxt, uuid)
            if check_lock:
                instance_extra.ensure_unlocked(session, ctxt, instance)
            before = instance_extra.system_metadata(session, uuid).get("vm_state_before")
            transition = states.check_action(
                action, instance.vm_state, instance.task_state, uuid, vm_state_before=before
            )
            if needs_host and instance.host is None:
                raise errors.Conflict(
                    states.invalid_state_message(ACTION_NAMES[action], uuid, "vm_state", instance.vm_state)
                )
            values = (prepare(session, instance, transition) if prepare else None) or {}
            if transition.sets_task_state or values:
                if transition.sets_task_state:
                    values["task_state"] = transition.new_task_state
                if not instances.compare_and_swap(
                    session, uuid, transition.expected_task_state,
                    expected_vm_state=(instance.vm_state,), **values,
                ):  # fmt: skip
                    raise errors.Conflict(
                        states.invalid_state_message(
                            ACTION_NAMES[action], uuid, "task_state", instance.task_state
                        )
                    )
            ia.record_action(session, ctxt, uuid, record_as)
            return Started(instance, transition)

        return self.db.write(write)

    # --- power ------------------------------------------------------------------------------------
    def reboot(self, ctxt: RequestContext, uuid: str, reboot_type: str) -> None:
        action = "reboot_hard" if reboot_type == "HARD" else "reboot_soft"
        started = self._start(ctxt, uuid, action, ia.REBOOT)
        self.compute_rpc.reboot_instance(ctxt, started.host, uuid, reboot_type)

    def stop(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "stop", ia.STOP)
        self.compute_rpc.stop_instance(ctxt, started.host, uuid)

    def start(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "start", ia.START)
        self.compute_rpc.start_instance(ctxt, started.host, uuid)

    def pause(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "pause", ia.PAUSE)
        self.compute_rpc.pause_instance(ctxt, started.host, uuid)

    def unpause(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "unpause", ia.UNPAUSE)
        self.compute_rpc.unpause_instance(ctxt, started.host, uuid)

    def suspend(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "suspend", ia.SUSPEND)
        self.compute_rpc.suspend_instance(ctxt, started.host, uuid)

    def resume(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "resume", ia.RESUME)
        self.compute_rpc.resume_instance(ctxt, started.host, uuid)

    # --- rescue and passwords ---------------------------------------------------------------------
    def rescue(
        self,
        ctxt: RequestContext,
        uuid: str,
        admin_password: str | None,
        rescue_image_ref: str | None,
        *,
        volume_backed_allowed: bool = False,
    ) -> str:
        """Boot a rescue image with the server's disk beside it. A volume-backed server (stable rescue,
        2.87: `volume_backed_allowed`) boots the rescue image first with its root volume as the second
        disk; the rescue image is the one asked for, else the image its root volume was made from."""
        password = admin_password or generate_password()
        image_ids: list[str] = []

        def prepare(session: Session, instance: Instance, transition: states.Transition) -> None:
            ref = rescue_image_ref or instance.image_ref
            if not instance.image_ref:
                if not volume_backed_allowed:
                    raise errors.BadRequest(f"Cannot rescue a volume-backed instance {uuid}.")
                root = next((row for row in block_device_mappings.of_instance(session, uuid)
                             if row.boot_index == 0), None)  # fmt: skip
                ref = ref or (root.image_id if root is not None else None) or ""
                if not ref:
                    raise errors.BadRequest(
                        f"Cannot rescue a volume-backed instance {uuid} without a rescue image: its root "
                        "volume was not made from an image, so rescue_image_ref is required."
                    )
            image_ids.append(visible_image(session, ctxt, ref).id)

        started = self._start(ctxt, uuid, "rescue", ia.RESCUE, prepare=prepare)
        self.compute_rpc.rescue_instance(ctxt, started.host, uuid, image_ids[0], password)
        return password

    def unrescue(self, ctxt: RequestContext, uuid: str) -> None:
        started = self._start(ctxt, uuid, "unrescue", ia.UNRESCUE)
        self.compute_rpc.unrescue_instance(ctxt, started.host, uuid)

    def change_password(self, ctxt: RequestContext, uuid: str, password: str) -> None:
        started = self._start(ctxt, uuid, "set_admin_password", ia.CHANGE_PASSWORD)
        # A call, not a cast: a driver that cannot set passwords answers the user, as in Nova.
        self.compute_rpc.set_admin_password(ctxt, started.host, uuid, password)

    def get_password(self, ctxt: RequestContext, uuid: str) -> str:
        with self.db.reader() as session:
            visible_instance(session, ctxt, uuid)
            extra = instance_extra.peek(session, uuid)
            return (extra.password if extra is not None else None) or ""

    def clear_password(self, ctxt: RequestContext, uuid: str) -> None:
        def write(session: Session) -> None:
            visible_instance(session, ctxt, uuid)
            instance_extra.get(session, uuid).password = None

        self.db.write(write)

    # --- lock -------------------------------------------------------------------------------------
    def lock(self, ctxt: RequestContext, uuid: str, reason: str | None = None) -> None:
        """Lock the server; 2.73's reason is kept in system metadata, as Nova keeps it, until unlock."""

        def write(session: Session) -> None:
            instance = visible_instance(session, ctxt, uuid)
            extra = instance_extra.get(session, uuid)
            extra.locked = True
            owner = ctxt.project_id == instance.project_id
            extra.locked_by = instance_extra.LOCKED_BY_OWNER if owner else instance_extra.LOCKED_BY_ADMIN
            instance_extra.update_system_metadata(session, uuid, **{LOCKED_REASON_KEY: reason})
            ia.record_action(session, ctxt, uuid, ia.LOCK)

        self.db.write(write)

    def unlock(self, ctxt: RequestContext, uuid: str) -> None:
        def write(session: Session) -> None:
            instance = visible_instance(session, ctxt, uuid)
            extra = instance_extra.get(session, uuid)
            if extra.locked and extra.locked_by == instance_extra.LOCKED_BY_ADMIN:
                # Only an admin may lift an admin's lock (Nova's unlock_override rule).
                policy.enforce(ctxt, policies.UNLOCK_OVERRIDE, {"project_id": instance.project_id})
            extra.locked, extra.locked_by = False, None
            instance_extra.update_system_metadata(session, uuid, **{LOCKED_REASON_KEY: None})
            ia.record_action(session, ctxt, uuid, ia.UNLOCK)

        self.db.write(write)

    # --- admin ------------------------------------------------------------------------------------
    def reset_state(self, ctxt: RequestContext, uuid: str, state: str) -> None:
        vm_state = RESET_STATES.get(state)
        if vm_state is None:
            raise errors.BadRequest(f"Invalid state {state!r}: expected one of {', '.join(RESET_STATES)}.")

        def write(session: Session) -> None:
            visible_instance(session, ctxt, uuid)
            session.execute(
                update(Instance)
                .where(Instance.uuid == uuid, Instance.deleted.is_(False))
                .values(vm_state=vm_state, task_state=None, updated_at=utcnow())
            )
            ia.record_action(session, ctxt, uuid, ia.RESET_STATE)

        self.db.write(write)

    def trigger_crash_dump(self, ctxt: RequestContext, uuid: str) -> None:
        """An NMI to the guest, at once (a call: the driver's refusal is this request's answer); recorded
        as Nova's trigger_crash_dump instance action, the host's event in it."""

        def write(session: Session) -> str:
            instance = visible_instance(session, ctxt, uuid)
            instance_extra.ensure_unlocked(session, ctxt, instance)
            states.check_action("trigger_crash_dump", instance.vm_state, instance.task_state, uuid)
            if instance.host is None:
                raise errors.Conflict(f"Instance {uuid} is not ready yet: it has no host.")
            ia.record_action(session, ctxt, uuid, ia.TRIGGER_CRASH_DUMP)
            return instance.host

        host = self.db.write(write)
        try:
            self.compute_rpc.trigger_crash_dump(ctxt, host, uuid)
        except errors.OvercastError as exc:
            if exc.status == 501:
                raise errors.BadRequest("Triggering crash dump is not supported") from None
            raise

    # --- inspection -------------------------------------------------------------------------------
    def console_output(self, ctxt: RequestContext, uuid: str, length: int | None) -> str:
        with self.db.reader() as session:
            instance = visible_instance(session, ctxt, uuid)
        states.check_action("get_console_output", instance.vm_state, instance.task_state, uuid)
        if instance.host is None:
            raise errors.Conflict(f"Instance {uuid} has not been scheduled to a host yet.")
        output = self.compute_rpc.get_console_output(ctxt, instance.host, uuid)
        if length is None or length < 0:
            return output
        lines = output.splitlines(keepends=True)
        return "".join(lines[-length:]) if length else ""

    def diagnostics(self, ctxt: RequestContext, uuid: str) -> dict[str, Any]:
        with self.db.reader() as session:
            instance = visible_instance(session, ctxt, uuid)
        if instance.host is None or instance.vm_state in (states.SHELVED_OFFLOADED, states.BUILDING):
            raise errors.Conflict(
                states.invalid_state_message("get_diagnostics", uuid, "vm_state", instance.vm_state)
            )
        return self.compute_rpc.get_diagnostics(ctxt, instance.host, uuid)


# The name Nova's conflict messages use for each ACTIONS row.
ACTION_NAMES: dict[str, str] = {name: row.api_name for name, row in states.ACTIONS.items()}
