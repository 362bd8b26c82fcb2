"""Compute service: power, pause, suspend, rescue, password, console, diagnostics, soft delete, restore."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from overcast.compute import states
from overcast.compute.manager.host import CLEAN_SHUTDOWN_TIMEOUT, HostEndpoint
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.manager import rpc_method
from overcast.virt.driver import ImageRef, RebootType


class PowerActions(HostEndpoint):
    """The compute service's power, console and soft-delete actions: an additional RPC endpoint."""

    def _walk_steps(self, uuid: str, action: str) -> None:
        """Move through the action's intermediate task_states (REBOOT_PENDING, REBOOT_STARTED, ...)."""
        row = states.ACTIONS[action]
        current = row.new_task_state
        for step in row.steps:
            self.compute_host.advance(uuid, current, step)
            current = step

    def _driver_action(
        self, ctxt: RequestContext, instance_uuid: str, action: str, notify: str, call: Callable[[], None]
    ) -> None:
        """An action that is one driver call, recorded as the event `compute_<action>_instance`."""
        self.compute_host.run_action(
            ctxt,
            instance_uuid,
            action,
            event=f"compute_{action}_instance",
            notify=notify,
            work=lambda instance: call(),
        )

    @rpc_method
    def reboot_instance(self, ctxt: RequestContext, instance_uuid: str, reboot_type: RebootType) -> None:
        action = "reboot_hard" if reboot_type == "HARD" else "reboot_soft"

        def work(instance: Instance) -> None:
            self._walk_steps(instance_uuid, action)
            self.driver.reboot(ctxt, instance_uuid, reboot_type)

        self.compute_host.run_action(
            ctxt, instance_uuid, action, event="compute_reboot_instance", notify="reboot", work=work
        )

    @rpc_method
    def stop_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt,
            instance_uuid,
            "stop",
            "power_off",
            lambda: self.driver.power_off(ctxt, instance_uuid, CLEAN_SHUTDOWN_TIMEOUT),
        )

    @rpc_method
    def start_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt, instance_uuid, "start", "power_on", lambda: self.driver.power_on(ctxt, instance_uuid)
        )

    @rpc_method
    def pause_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt, instance_uuid, "pause", "pause", lambda: self.driver.pause(ctxt, instance_uuid)
        )

    @rpc_method
    def unpause_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt, instance_uuid, "unpause", "unpause", lambda: self.driver.unpause(ctxt, instance_uuid)
        )

    @rpc_method
    def suspend_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt, instance_uuid, "suspend", "suspend", lambda: self.driver.suspend(ctxt, instance_uuid)
        )

    @rpc_method
    def resume_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt, instance_uuid, "resume", "resume", lambda: self.driver.resume(ctxt, instance_uuid)
        )

    # --- rescue and passwords ---------------------------------------------------------------------
    @rpc_method
    def rescue_instance(
        self, ctxt: RequestContext, instance_uuid: str, rescue_image_id: str, admin_password: str
    ) -> None:
        def work(instance: Instance) -> None:
            image = self.compute_host.spec(instance, image_id=rescue_image_id).image
            rescue_ref = ImageRef(id=image.id, properties=image.properties)
            rescue_image = self.compute_host.with_image_file(ctxt, rescue_ref)
            self.driver.rescue(ctxt, instance_uuid, rescue_image, admin_password)

        self.compute_host.run_action(
            ctxt, instance_uuid, "rescue", event="compute_rescue_instance", notify="rescue", work=work
        )

    @rpc_method
    def unrescue_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt, instance_uuid, "unrescue", "unrescue", lambda: self.driver.unrescue(ctxt, instance_uuid)
        )

    @rpc_method
    def set_admin_password(self, ctxt: RequestContext, instance_uuid: str, password: str) -> None:
        self.compute_host.run_action(
            ctxt,
            instance_uuid,
            "set_admin_password",
            event="compute_set_admin_password",
            notify=None,
            work=lambda instance: self.driver.set_admin_password(instance_uuid, password),
            reraise=True,
        )

    # --- inspection -------------------------------------------------------------------------------
    @rpc_method
    def trigger_crash_dump(self, ctxt: RequestContext, instance_uuid: str) -> None:
        with self.compute_host.event(ctxt, instance_uuid, "compute_trigger_crash_dump"):
            self.driver.trigger_crash_dump(instance_uuid)

    @rpc_method
    def get_console_output(self, ctxt: RequestContext, instance_uuid: str) -> str:
        return self.driver.get_console_output(ctxt, instance_uuid)

    @rpc_method
    def get_diagnostics(self, ctxt: RequestContext, instance_uuid: str) -> dict[str, Any]:
        return self.driver.get_diagnostics(instance_uuid)

    @rpc_method
    def get_serial_console(self, ctxt: RequestContext, instance_uuid: str) -> dict[str, Any]:
        """Where the serial console proxy connects: {"kind": "tcp", ...} or {"kind": "unix", ...} (1.3)."""
        return self.driver.get_serial_console(instance_uuid)

    # --- soft delete ------------------------------------------------------------------------------
    @rpc_method
    def soft_delete_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt,
            instance_uuid,
            "soft_delete",
            "soft_delete",
            lambda: self.driver.power_off(ctxt, instance_uuid, CLEAN_SHUTDOWN_TIMEOUT),
        )

    @rpc_method
    def restore_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        self._driver_action(
            ctxt, instance_uuid, "restore", "restore", lambda: self.driver.power_on(ctxt, instance_uuid)
        )
