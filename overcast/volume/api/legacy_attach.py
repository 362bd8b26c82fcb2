"""The attach and detach volume actions older clients use (os-reserve, os-initialize_connection,
os-attach, os-terminate_connection, os-detach, os-unreserve), on the same attachment rows as the 3.27
attachments API: each legacy step finds or makes the volume's attachment and takes the matching step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import VolumeAttachment
from overcast.errors import BadRequest
from overcast.volume import policies, states
from overcast.volume.api import access
from overcast.volume.api.attachments import Attachments, check_connector, check_mode
from overcast.volume.rpcapi import VolumeHostAPI

UNCONNECTED = (states.ATTACHMENT_RESERVED, states.ATTACHMENT_ATTACHING, states.ERROR_ATTACHING)


class LegacyAttach:
    def __init__(self, db: Database, hosts: VolumeHostAPI | None, attachments: Attachments) -> None:
        self.db = db
        self.hosts = hosts
        self.attachments = attachments

    def _enforce(self, session: Session, ctxt: RequestContext, volume_id: str) -> None:
        volume = access.get_volume(session, ctxt, volume_id)
        policy.enforce(ctxt, policies.ATTACH, {"project_id": volume.project_id})

    def _attachments(
        self, session: Session, volume_id: str, statuses: tuple[str, ...]
    ) -> list[VolumeAttachment]:
        query = (
            select(VolumeAttachment)
            .where(VolumeAttachment.volume_id == volume_id, VolumeAttachment.attach_status.in_(statuses))
            .order_by(VolumeAttachment.created_at.desc(), VolumeAttachment.id)
        )
        return list(session.scalars(query))

    def reserve(self, ctxt: RequestContext, volume_id: str) -> None:
        """os-reserve: available → attaching, with a reserved attachment for the coming connection."""
        record = self.attachments.create(ctxt, volume_id, None)
        self.db.write(
            lambda session: states.change_status(session, volume_id, {states.RESERVED}, states.ATTACHING)
        )
        assert record["id"]

    def unreserve(self, ctxt: RequestContext, volume_id: str) -> None:
        with self.db.reader() as session:
            self._enforce(session, ctxt, volume_id)
            pending = [
                a.id for a in self._attachments(session, volume_id, UNCONNECTED) if a.connection_info is None
            ]
        for attachment_id in pending:
            self.attachments.delete(ctxt, attachment_id)

    def initialize_connection(self, ctxt: RequestContext, volume_id: str, connector: Any) -> dict[str, Any]:
        checked = check_connector(connector)
        with self.db.reader() as session:
            self._enforce(session, ctxt, volume_id)
            pending = self._attachments(session, volume_id, UNCONNECTED)
            same_host = [a for a in pending if a.attached_host in (None, checked.get("host"))]
            attachment_id = same_host[0].id if same_host else None
        if attachment_id is None:
            attachment_id = self.attachments.create(ctxt, volume_id, None)["id"]
        return self.attachments.update(ctxt, attachment_id, checked)

    def attach(self, ctxt: RequestContext, volume_id: str, body: Mapping[str, Any]) -> None:
        """os-attach: the hypervisor attached the connected volume to `instance_uuid` at `mountpoint`."""
        instance_uuid = body.get("instance_uuid")
        host_name = body.get("host_name")
        if instance_uuid is None and host_name is None:
            raise BadRequest("Invalid request to attach volume to an invalid target")
        mountpoint = body.get("mountpoint")
        if not isinstance(mountpoint, str) or not mountpoint:
            raise BadRequest("Must specify 'mountpoint'")
        mode = check_mode(body.get("mode", "rw"))

        def write(session: Session) -> str:
            self._enforce(session, ctxt, volume_id)
            pending = self._attachments(session, volume_id, UNCONNECTED)
            connected = [a for a in pending if a.connection_info is not None]
            if not connected:
                raise BadRequest(f"Invalid volume: Volume {volume_id} has no connection to attach; "
                                 "initialize the connection first.")  # fmt: skip
            attachment = connected[0]
            attachment.instance_uuid = instance_uuid
            attachment.mountpoint = mountpoint
            attachment.attach_mode = mode
            if host_name:
                attachment.attached_host = str(host_name)
            attachment.updated_at = utcnow()
            return attachment.id

        attachment_id = self.db.write(write)
        self.attachments.complete(ctxt, attachment_id)

    def terminate_connection(self, ctxt: RequestContext, volume_id: str, connector: Any) -> None:
        checked = check_connector(connector)
        with self.db.reader() as session:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.ATTACH, {"project_id": volume.project_id})
            connected = [
                a
                for a in self._attachments(
                    session, volume_id, (*UNCONNECTED, states.ATTACHED, states.ATTACHMENT_DETACHING)
                )
                if a.connection_info is not None and a.attached_host in (None, checked.get("host"))
            ]
            host = volume.host
        for attachment in connected:
            if host is not None and self.hosts is not None:
                self.hosts.terminate_connection(ctxt, host, volume_id, attachment.id,
                                                timeout=self.attachments.rpc_timeout)  # fmt: skip

            def forget(session: Session, attachment_id: str = attachment.id) -> None:
                row = session.get(VolumeAttachment, attachment_id)
                if row is not None:
                    row.connection_info = None

            self.db.write(forget)

    def detach(self, ctxt: RequestContext, volume_id: str, attachment_id: str | None) -> None:
        with self.db.reader() as session:
            self._enforce(session, ctxt, volume_id)
            live = (states.ATTACHED, states.ATTACHMENT_DETACHING, *UNCONNECTED)
            rows = self._attachments(session, volume_id, live)
        if attachment_id is None:
            if len(rows) > 1:
                raise BadRequest("Invalid volume: Volume has more than one attachment; give attachment_id.")
            if not rows:
                raise BadRequest(f"Invalid volume: Volume {volume_id} is not attached.")
            attachment_id = rows[0].id
        elif attachment_id not in {row.id for row in rows}:
            raise BadRequest(f"Invalid volume: Volume {volume_id} has no attachment {attachment_id}.")
        self.attachments.delete(ctxt, attachment_id)
