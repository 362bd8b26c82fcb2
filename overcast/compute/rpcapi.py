"""Typed RPC client of the compute service: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "compute"
BINARY = "overcast-compute"


class ComputeAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: build_and_run_instance, terminate_instance
    # 1.2: server actions (power, pause, suspend, rescue, password, console, diagnostics, resize,
    #      rebuild, snapshot, shelve, soft delete, restore)
    # 1.3: get_serial_console
    # 1.4: attach_interface, detach_interface
    # 1.5: attach_volume, detach_volume, extend_volume, swap_volume
    # 1.6: get_host_uptime
    # 1.7: backup_instance
    # 1.8: external_instance_event
    # 1.9: cache_images
    VERSION: ClassVar[str] = "1.9"

    def _cast(self, ctxt: RequestContext, host: str, method: str, **kwargs: Any) -> None:
        self.client.prepare(host=host).cast(ctxt, method, **kwargs)

    def build_and_run_instance(
        self,
        ctxt: RequestContext,
        host: str,
        instance_uuid: str,
        admin_password: str | None = None,
        *,
        attempt: int = 1,
        alternates: list[dict[str, str]] | None = None,
        failed_hosts: list[str] | None = None,
    ) -> None:
        self.client.prepare(host=host).cast(
            ctxt, "build_and_run_instance", instance_uuid=instance_uuid, admin_password=admin_password,
            attempt=attempt, alternates=list(alternates or ()), failed_hosts=list(failed_hosts or ()),
        )  # fmt: skip

    def terminate_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "terminate_instance", instance_uuid=instance_uuid)

    # --- power ------------------------------------------------------------------------------------
    def reboot_instance(self, ctxt: RequestContext, host: str, instance_uuid: str, reboot_type: str) -> None:
        self._cast(ctxt, host, "reboot_instance", instance_uuid=instance_uuid, reboot_type=reboot_type)

    def stop_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "stop_instance", instance_uuid=instance_uuid)

    def start_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "start_instance", instance_uuid=instance_uuid)

    def pause_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "pause_instance", instance_uuid=instance_uuid)

    def unpause_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "unpause_instance", instance_uuid=instance_uuid)

    def suspend_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "suspend_instance", instance_uuid=instance_uuid)

    def resume_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "resume_instance", instance_uuid=instance_uuid)

    # --- rescue, password, inspection -------------------------------------------------------------
    def rescue_instance(
        self, ctxt: RequestContext, host: str, instance_uuid: str, rescue_image_id: str, admin_password: str
    ) -> None:
        self._cast(
            ctxt, host, "rescue_instance", instance_uuid=instance_uuid, rescue_image_id=rescue_image_id,
            admin_password=admin_password,
        )  # fmt: skip

    def unrescue_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "unrescue_instance", instance_uuid=instance_uuid)

    def set_admin_password(self, ctxt: RequestContext, host: str, instance_uuid: str, password: str) -> None:
        self.client.prepare(host=host).call(
            ctxt, "set_admin_password", instance_uuid=instance_uuid, password=password
        )

    def trigger_crash_dump(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        """A call, not a cast: a driver that cannot inject an NMI is the request's 400, as in Nova."""
        self.client.prepare(host=host).call(ctxt, "trigger_crash_dump", instance_uuid=instance_uuid)

    def get_console_output(self, ctxt: RequestContext, host: str, instance_uuid: str) -> str:
        output: str = self.client.prepare(host=host).call(
            ctxt, "get_console_output", instance_uuid=instance_uuid
        )
        return output

    def attach_interface(
        self, ctxt: RequestContext, host: str, instance_uuid: str, requested: dict[str, str], timeout: float
    ) -> str:
        """Give the server a port on `requested` ({"network_id", "fixed_ip"?} or {"port_id"}) and plug it
        (call, as Nova's: the API answers with the attachment); the port's id."""
        port_id: str = self.client.prepare(host=host, version="1.4", timeout=timeout).call(
            ctxt, "attach_interface", instance_uuid=instance_uuid, requested=requested
        )
        return port_id

    def detach_interface(self, ctxt: RequestContext, host: str, instance_uuid: str, port_id: str) -> None:
        self.client.prepare(host=host, version="1.4").cast(
            ctxt, "detach_interface", instance_uuid=instance_uuid, port_id=port_id
        )

    # --- volumes (os-volume_attachments; extend_volume comes from the volume host) ------------------
    def attach_volume(self, ctxt: RequestContext, host: str, instance_uuid: str, bdm_uuid: str) -> None:
        """Connect and plug the volume the API reserved in block device mapping `bdm_uuid` (a cast, as
        Nova's: the API answers once the volume is reserved)."""
        self.client.prepare(host=host, version="1.5").cast(
            ctxt, "attach_volume", instance_uuid=instance_uuid, bdm_uuid=bdm_uuid
        )

    def detach_volume(
        self, ctxt: RequestContext, host: str, instance_uuid: str, volume_id: str, attachment_id: str | None
    ) -> None:
        self.client.prepare(host=host, version="1.5").cast(
            ctxt, "detach_volume", instance_uuid=instance_uuid, volume_id=volume_id,
            attachment_id=attachment_id,
        )  # fmt: skip

    def extend_volume(
        self, ctxt: RequestContext, host: str, instance_uuid: str, volume_id: str, new_size: int
    ) -> None:
        """The volume host grew `volume_id` to `new_size` GiB: the guest of `instance_uuid` is told."""
        self.client.prepare(host=host, version="1.5").cast(
            ctxt, "extend_volume", instance_uuid=instance_uuid, volume_id=volume_id, new_size=new_size
        )

    def swap_volume(
        self,
        ctxt: RequestContext,
        host: str,
        instance_uuid: str,
        old_volume_id: str,
        new_volume_id: str,
        new_attachment_id: str,
    ) -> None:
        self.client.prepare(host=host, version="1.5").cast(
            ctxt, "swap_volume", instance_uuid=instance_uuid, old_volume_id=old_volume_id,
            new_volume_id=new_volume_id, new_attachment_id=new_attachment_id,
        )  # fmt: skip

    def get_serial_console(self, ctxt: RequestContext, host: str, instance_uuid: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.prepare(host=host, version="1.3").call(
            ctxt, "get_serial_console", instance_uuid=instance_uuid
        )
        return result

    def external_instance_event(self, ctxt: RequestContext, host: str, events: list[dict[str, Any]]) -> None:
        """os-server-external-events for the servers on `host` (power-update, volume-extended)."""
        self.client.prepare(host=host, version="1.8").cast(ctxt, "external_instance_event", events=events)

    def cache_images(self, ctxt: RequestContext, host: str, image_ids: list[str]) -> None:
        """Fetch the images into the host's image cache ahead of builds (2.81's aggregate pre-caching)."""
        self.client.prepare(host=host, version="1.9").cast(ctxt, "cache_images", image_ids=image_ids)

    def get_host_uptime(self, ctxt: RequestContext, host: str) -> str:
        uptime: str = self.client.prepare(host=host, version="1.6").call(ctxt, "get_host_uptime")
        return uptime

    def get_diagnostics(self, ctxt: RequestContext, host: str, instance_uuid: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.prepare(host=host).call(
            ctxt, "get_diagnostics", instance_uuid=instance_uuid
        )
        return result

    # --- resize (the conductor casts resize_instance; confirm/revert come from the API) -----------
    def resize_instance(
        self, ctxt: RequestContext, host: str, instance_uuid: str, dest_host: str, dest_node: str
    ) -> None:
        self._cast(
            ctxt,
            host,
            "resize_instance",
            instance_uuid=instance_uuid,
            dest_host=dest_host,
            dest_node=dest_node,
        )

    def finish_resize(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "finish_resize", instance_uuid=instance_uuid)

    def confirm_resize(
        self, ctxt: RequestContext, host: str, instance_uuid: str, done_vm_state: str, *, wait: bool = False
    ) -> None:
        """A cast; `wait` makes it a call (a delete confirms first and must not overtake the confirm)."""
        if wait:
            self.client.prepare(host=host).call(
                ctxt, "confirm_resize", instance_uuid=instance_uuid, done_vm_state=done_vm_state
            )
            return
        self._cast(ctxt, host, "confirm_resize", instance_uuid=instance_uuid, done_vm_state=done_vm_state)

    def revert_resize(self, ctxt: RequestContext, host: str, instance_uuid: str, done_vm_state: str) -> None:
        self._cast(ctxt, host, "revert_resize", instance_uuid=instance_uuid, done_vm_state=done_vm_state)

    def finish_revert_resize(
        self, ctxt: RequestContext, host: str, instance_uuid: str, done_vm_state: str
    ) -> None:
        self._cast(
            ctxt, host, "finish_revert_resize", instance_uuid=instance_uuid, done_vm_state=done_vm_state
        )

    # --- rebuild, snapshot, shelve ----------------------------------------------------------------
    def rebuild_instance(
        self,
        ctxt: RequestContext,
        host: str,
        instance_uuid: str,
        admin_password: str,
        done_vm_state: str,
        reimage_image_id: str | None = None,
    ) -> None:
        """`reimage_image_id`: a volume-backed server (2.93) whose root volume is reimaged with it."""
        self._cast(
            ctxt, host, "rebuild_instance", instance_uuid=instance_uuid, admin_password=admin_password,
            done_vm_state=done_vm_state, reimage_image_id=reimage_image_id,
        )  # fmt: skip

    def backup_instance(
        self,
        ctxt: RequestContext,
        host: str,
        instance_uuid: str,
        image_id: str,
        backup_type: str,
        rotation: int,
    ) -> None:
        self.client.prepare(host=host, version="1.7").cast(
            ctxt, "backup_instance", instance_uuid=instance_uuid, image_id=image_id, backup_type=backup_type,
            rotation=rotation,
        )  # fmt: skip

    def snapshot_instance(self, ctxt: RequestContext, host: str, instance_uuid: str, image_id: str) -> None:
        self._cast(ctxt, host, "snapshot_instance", instance_uuid=instance_uuid, image_id=image_id)

    def shelve_instance(
        self, ctxt: RequestContext, host: str, instance_uuid: str, image_id: str, *, offload: bool
    ) -> None:
        self._cast(
            ctxt, host, "shelve_instance", instance_uuid=instance_uuid, image_id=image_id, offload=offload
        )

    def shelve_offload_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "shelve_offload_instance", instance_uuid=instance_uuid)

    def unshelve_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "unshelve_instance", instance_uuid=instance_uuid)

    # --- soft delete ------------------------------------------------------------------------------
    def soft_delete_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "soft_delete_instance", instance_uuid=instance_uuid)

    def restore_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self._cast(ctxt, host, "restore_instance", instance_uuid=instance_uuid)
