"""Typed RPC client of the volume service: the only code that sends a volume host messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "volume"
BINARY = "overcast-volume"


class VolumeHostAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: get_capabilities
    VERSION: ClassVar[str] = "1.1"

    def _cast(self, ctxt: RequestContext, host: str, method: str, **kwargs: Any) -> None:
        self.client.prepare(host=host).cast(ctxt, method, **kwargs)

    def get_capabilities(
        self, ctxt: RequestContext, host: str, timeout: float | None = None
    ) -> dict[str, Any]:
        """What the host's backend says of itself (call): Cinder's capabilities document."""
        client = self.client.prepare(host=host, version="1.1", timeout=timeout)
        capabilities: dict[str, Any] = client.call(ctxt, "get_capabilities")
        return capabilities

    def create_volume(self, ctxt: RequestContext, host: str, volume_id: str, source: dict[str, Any]) -> None:
        """Make the volume's storage (cast): `source` is {} (empty), or one of image_id, snapshot_id,
        source_volid, backup_id. The host finishes with the volume `available` or `error`."""
        self._cast(ctxt, host, "create_volume", volume_id=volume_id, source=dict(source))

    def delete_volume(self, ctxt: RequestContext, host: str, volume_id: str) -> None:
        """Remove the volume's storage and its row (cast); `error_deleting` if the storage stays."""
        self._cast(ctxt, host, "delete_volume", volume_id=volume_id)

    def initialize_connection(
        self,
        ctxt: RequestContext,
        host: str,
        volume_id: str,
        attachment_id: str,
        connector: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Export the volume for one attachment (call) and return Cinder's connection_info."""
        client = self.client.prepare(host=host, timeout=timeout)
        info: dict[str, Any] = client.call(
            ctxt,
            "initialize_connection",
            volume_id=volume_id,
            attachment_id=attachment_id,
            connector=dict(connector),
        )
        return info

    def terminate_connection(
        self,
        ctxt: RequestContext,
        host: str,
        volume_id: str,
        attachment_id: str,
        timeout: float | None = None,
    ) -> None:
        """Remove the attachment's export (call; absent is fine)."""
        client = self.client.prepare(host=host, timeout=timeout)
        client.call(ctxt, "terminate_connection", volume_id=volume_id, attachment_id=attachment_id)

    def extend_volume(
        self, ctxt: RequestContext, host: str, volume_id: str, new_size: int, timeout: float | None = None
    ) -> None:
        """Grow the volume to `new_size` GiB (call): `extending` → its previous status, or
        `error_extending`; the compute hosts it is attached to are told to resize the guest's disk."""
        client = self.client.prepare(host=host, timeout=timeout)
        client.call(ctxt, "extend_volume", volume_id=volume_id, new_size=new_size)

    def reimage_volume(self, ctxt: RequestContext, host: str, volume_id: str, image_id: str) -> None:
        """Write the image over the volume's data (cast): `downloading` → `reserved` if it was, else
        `available`; `error` if the image cannot be written."""
        self._cast(ctxt, host, "reimage_volume", volume_id=volume_id, image_id=image_id)

    def copy_volume_to_image(self, ctxt: RequestContext, host: str, volume_id: str, image_id: str) -> None:
        """Upload the volume's bytes into the (queued) image (cast): `uploading` → its previous status."""
        self._cast(ctxt, host, "copy_volume_to_image", volume_id=volume_id, image_id=image_id)

    # --- snapshots and backups (the manager's DataActions endpoint) ----------------------------------------
    def create_snapshot(self, ctxt: RequestContext, host: str, snapshot_id: str) -> None:
        """Make the (creating) snapshot's storage (cast): `available` or `error`."""
        self._cast(ctxt, host, "create_snapshot", snapshot_id=snapshot_id)

    def delete_snapshot(self, ctxt: RequestContext, host: str, snapshot_id: str) -> None:
        """Remove the (deleting) snapshot's storage and row (cast); `error_deleting` if the storage stays."""
        self._cast(ctxt, host, "delete_snapshot", snapshot_id=snapshot_id)

    def revert_to_snapshot(self, ctxt: RequestContext, host: str, volume_id: str, snapshot_id: str) -> None:
        """Write the snapshot's bytes over the (reverting) volume (cast): `available` or `error`."""
        self._cast(ctxt, host, "revert_to_snapshot", volume_id=volume_id, snapshot_id=snapshot_id)

    def create_backup(self, ctxt: RequestContext, host: str, backup_id: str) -> None:
        """Store the (creating) backup's data (cast): `available` or `error`; its volume goes back to where
        it was."""
        self._cast(ctxt, host, "create_backup", backup_id=backup_id)

    def restore_backup(self, ctxt: RequestContext, host: str, backup_id: str, volume_id: str) -> None:
        """Write the backup's data onto the (restoring-backup) volume (cast): `available` or
        `error_restoring`; the backup goes back to `available`."""
        self._cast(ctxt, host, "restore_backup", backup_id=backup_id, volume_id=volume_id)

    def delete_backup(self, ctxt: RequestContext, host: str, backup_id: str) -> None:
        """Remove the (deleting) backup's data and row (cast); `error_deleting` if the data stays."""
        self._cast(ctxt, host, "delete_backup", backup_id=backup_id)
