"""Attachments (Cinder's 3.27+ flow, which compute uses): reserve → update with the connector (the volume
host exports the volume and hands back connection_info) → complete; begin/roll detaching; delete (the
export goes, and the volume is `available` again when it was its last attachment).

The volume's status changes by compare-and-swap in the transaction that writes the attachment row; the
volume host is called after that transaction commits.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.volume import QosSpecs, Volume, VolumeAttachment, VolumeType
from overcast.errors import BadRequest, NotFound, OvercastError
from overcast.volume import policies, states
from overcast.volume.api import access
from overcast.volume.api.records import Record, attachment_record
from overcast.volume.rpcapi import VolumeHostAPI

LOG = logging.getLogger(__name__)

# Cinder's front-end QoS keys (what the hypervisor throttles).
FRONT_END_QOS_KEYS = (
    "read_iops_sec", "write_iops_sec", "total_iops_sec", "read_bytes_sec", "write_bytes_sec",
    "total_bytes_sec",
    "read_iops_sec_max", "write_iops_sec_max", "total_iops_sec_max", "read_bytes_sec_max",
    "write_bytes_sec_max", "total_bytes_sec_max", "size_iops_sec",
)  # fmt: skip
LIVE_ATTACHMENT_STATUSES = (
    states.ATTACHMENT_RESERVED, states.ATTACHMENT_ATTACHING, states.ATTACHED, states.ATTACHMENT_DETACHING,
)  # fmt: skip


def invalid_volume(message: str) -> BadRequest:
    return BadRequest(f"Invalid volume: {message}")


def check_connector(connector: Any) -> dict[str, Any]:
    if not isinstance(connector, Mapping) or not connector:
        raise BadRequest("Invalid input received: connector must be a non-empty object.")
    return dict(connector)


def check_mode(mode: Any) -> str:
    if mode not in ("rw", "ro"):
        raise BadRequest(f"Invalid input received: Invalid attaching mode '{mode}' for volume.")
    return str(mode)


def front_end_qos(session: Session, volume: Volume) -> dict[str, str] | None:
    """The type's QoS spec keys the hypervisor applies (consumer front-end or both), or None."""
    volume_type = session.get(VolumeType, volume.volume_type_id)
    if volume_type is None or volume_type.qos_specs_id is None:
        return None
    specs = session.get(QosSpecs, volume_type.qos_specs_id)
    if specs is None or specs.consumer not in ("front-end", "both"):
        return None
    return {key: value for key, value in specs.specs.items() if key in FRONT_END_QOS_KEYS} or None


def _live_attachments(session: Session, volume_id: str, *, excluding: str | None = None) -> int:
    query = (
        select(func.count())
        .select_from(VolumeAttachment)
        .where(
            VolumeAttachment.volume_id == volume_id,
            VolumeAttachment.attach_status.in_(LIVE_ATTACHMENT_STATUSES),
        )
    )
    if excluding is not None:
        query = query.where(VolumeAttachment.id != excluding)
    return int(session.scalar(query) or 0)


class Attachments:
    def __init__(self, db: Database, hosts: VolumeHostAPI | None, rpc_timeout: float | None = None) -> None:
        self.db = db
        self.hosts = hosts
        self.rpc_timeout = rpc_timeout

    # --- reserve --------------------------------------------------------------------------------------
    def create(
        self,
        ctxt: RequestContext,
        volume_id: str,
        instance_uuid: str | None,
        *,
        mode: str = "rw",
        connector: Mapping[str, Any] | None = None,
    ) -> Record:
        """Reserve the volume for `instance_uuid` (available → reserved; a multiattach volume in use
        stays in-use). With a connector the attachment is connected at once, as Cinder does."""
        mode = check_mode(mode)

        def write(session: Session) -> Record:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.ATTACHMENT_CREATE, {"project_id": volume.project_id})
            if instance_uuid is not None:
                duplicate = session.scalar(
                    select(func.count())
                    .select_from(VolumeAttachment)
                    .where(
                        VolumeAttachment.volume_id == volume.id,
                        VolumeAttachment.instance_uuid == instance_uuid,
                        VolumeAttachment.attach_status.in_(LIVE_ATTACHMENT_STATUSES),
                    )
                )
                if duplicate:
                    raise invalid_volume(f"Volume {volume.id} is already attached to server {instance_uuid}.")
            self._reserve(session, volume)
            attachment = VolumeAttachment(
                id=str(uuid.uuid4()), volume_id=volume.id, instance_uuid=instance_uuid,
                attach_status=states.ATTACHMENT_RESERVED, attach_mode="ro" if volume.readonly else mode,
            )  # fmt: skip
            session.add(attachment)
            session.flush()
            return attachment_record(attachment)

        record = self.db.write(write)
        if connector is not None:
            self.update(ctxt, record["id"], connector)
            return self.get(ctxt, record["id"])
        return record

    @staticmethod
    def _reserve(session: Session, volume: Volume) -> None:
        if volume.multiattach and volume.status == states.IN_USE:
            return  # more attachments of an attached multiattach volume leave it in-use
        if volume.status != states.AVAILABLE:
            if volume.status == states.IN_USE:
                raise invalid_volume(
                    f"Volume {volume.id} status must be available to reserve, but the current status is "
                    "in-use and it is not multiattach."
                )
            raise invalid_volume(
                f"Volume {volume.id} status must be available or downloading to reserve, but the current "
                f"status is {volume.status}."
            )
        if not states.start(session, volume.id, "reserve"):
            raise invalid_volume(f"Volume {volume.id} status changed while reserving it; try again.")

    # --- connect --------------------------------------------------------------------------------------
    def update(self, ctxt: RequestContext, attachment_id: str, connector: Any) -> dict[str, Any]:
        """Connect the attachment for the host in `connector`: the volume host exports the volume and
        the connection_info (with the type's front-end QoS) is stored and returned."""
        checked = check_connector(connector)

        def claim(session: Session) -> tuple[str, str, Volume, dict[str, str] | None, str]:
            attachment = access.get_attachment(session, ctxt, attachment_id)
            volume = access.get_volume(session, ctxt, attachment.volume_id)
            policy.enforce(ctxt, policies.ATTACHMENT_UPDATE, {"project_id": volume.project_id})
            if attachment.attach_status not in (states.ATTACHMENT_RESERVED, states.ATTACHMENT_ATTACHING,
                                                states.ATTACHED, states.ERROR_ATTACHING):  # fmt: skip
                raise invalid_volume(
                    f"Attachment {attachment.id} is {attachment.attach_status}; it cannot connect."
                )
            if volume.host is None:
                raise invalid_volume(f"Volume {volume.id} has no host to export it from.")
            if volume.status == states.RESERVED:
                states.change_status(session, volume.id, {states.RESERVED}, states.ATTACHING)
            attachment.attach_status = states.ATTACHMENT_ATTACHING
            attachment.connector = checked
            attachment.attached_host = str(checked.get("host") or "") or None
            if checked.get("mountpoint"):
                attachment.mountpoint = str(checked["mountpoint"])
            attachment.updated_at = utcnow()
            return volume.host, volume.id, volume, front_end_qos(session, volume), attachment.attach_mode

        host, volume_id, _, qos, mode = self.db.write(claim)
        if self.hosts is None:
            raise OvercastError("No volume service is reachable from this process.")
        try:
            info = self.hosts.initialize_connection(
                ctxt, host, volume_id, attachment_id, checked, timeout=self.rpc_timeout
            )
        except Exception:
            self.db.write(lambda session: self._connect_failed(session, attachment_id, volume_id))
            raise
        data = dict(info.get("data") or {})
        data.setdefault("volume_id", volume_id)
        data["access_mode"] = mode
        data.setdefault("encrypted", False)
        data["qos_specs"] = qos
        connection_info = {**info, "data": data}

        def store(session: Session) -> None:
            attachment = session.get(VolumeAttachment, attachment_id)
            if attachment is not None:
                attachment.connection_info = connection_info
                attachment.updated_at = utcnow()

        self.db.write(store)
        return connection_info

    @staticmethod
    def _connect_failed(session: Session, attachment_id: str, volume_id: str) -> None:
        attachment = session.get(VolumeAttachment, attachment_id)
        if attachment is not None:
            attachment.attach_status = states.ERROR_ATTACHING
        # The volume goes back to reserved (or stays in use when it has other attachments).
        states.change_status(session, volume_id, {states.ATTACHING}, states.RESERVED)

    def complete(self, ctxt: RequestContext, attachment_id: str) -> None:
        """The compute host attached the disk: attachment attached, volume in-use."""

        def write(session: Session) -> None:
            attachment = access.get_attachment(session, ctxt, attachment_id)
            volume = access.get_volume(session, ctxt, attachment.volume_id)
            policy.enforce(ctxt, policies.ATTACHMENT_COMPLETE, {"project_id": volume.project_id})
            if attachment.attach_status == states.ATTACHED:
                return
            # Cinder completes an attachment no host ever connected (Nova's attach to a shelved-offloaded
            # server); one that a host tried to connect must have connected first.
            if attachment.connection_info is None and attachment.connector is not None:
                raise invalid_volume(
                    f"Attachment {attachment.id} is not connected; update it with a connector first."
                )
            if not states.change_status(session, volume.id, states.ACTIONS["attach_complete"].expected,
                                        states.IN_USE, attach_status=states.ATTACHED):  # fmt: skip
                raise invalid_volume(f"Volume {volume.id} is {volume.status}; it cannot complete an attach.")
            attachment.attach_status = states.ATTACHED
            attachment.attach_time = utcnow()
            attachment.updated_at = utcnow()

        self.db.write(write)

    # --- detach ---------------------------------------------------------------------------------------
    def begin_detaching(self, ctxt: RequestContext, volume_id: str) -> None:
        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.ATTACH, {"project_id": volume.project_id})
            if not states.start(session, volume.id, "begin_detaching"):
                raise invalid_volume(
                    f"Volume {volume.id} status must be in-use to detach, currently {volume.status}."
                )

        self.db.write(write)

    def roll_detaching(self, ctxt: RequestContext, volume_id: str) -> None:
        def write(session: Session) -> None:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.ATTACH, {"project_id": volume.project_id})
            states.change_status(session, volume.id, {states.DETACHING}, states.IN_USE)

        self.db.write(write)

    def delete(self, ctxt: RequestContext, attachment_id: str) -> None:
        """Remove the export (when the attachment was connected) and the attachment; the volume is
        `available` again after its last attachment."""
        with self.db.reader() as session:
            attachment = access.get_attachment(session, ctxt, attachment_id)
            volume = access.get_volume(session, ctxt, attachment.volume_id)
            policy.enforce(ctxt, policies.ATTACHMENT_DELETE, {"project_id": volume.project_id})
            connected = attachment.connection_info is not None
            host, volume_id = volume.host, volume.id
        if connected and host is not None and self.hosts is not None:
            self.hosts.terminate_connection(ctxt, host, volume_id, attachment_id, timeout=self.rpc_timeout)

        def write(session: Session) -> None:
            row = session.get(VolumeAttachment, attachment_id)
            if row is None:
                return  # a concurrent delete finished first
            session.delete(row)
            session.flush()
            if _live_attachments(session, volume_id):
                others = {states.DETACHING, states.ATTACHING, states.RESERVED}
                states.change_status(session, volume_id, others, states.IN_USE)
                return
            states.change_status(
                session, volume_id,
                {states.IN_USE, states.DETACHING, states.RESERVED, states.ATTACHING, states.ERROR_ATTACHING},
                states.AVAILABLE, attach_status=states.DETACHED,
            )  # fmt: skip

        self.db.write(write)

    def force_detach(self, ctxt: RequestContext, volume_id: str, attachment_id: str | None) -> None:
        """os-force_detach (admin): end the volume's attachment (all of them without an id) whatever the
        compute host did. The export goes if the volume host answers; if it does not, the host's export
        sweep at its next start removes what no attachment needs."""

        def attachments(session: Session) -> tuple[str | None, list[tuple[str, bool]]]:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.FORCE_DETACH, {"project_id": volume.project_id})
            query = select(VolumeAttachment).where(VolumeAttachment.volume_id == volume.id)
            if attachment_id is not None:
                query = query.where(VolumeAttachment.id == attachment_id)
            rows = list(session.scalars(query))
            if attachment_id is not None and not rows:
                raise NotFound(
                    f"Volume attachment could not be found with filter: attachment_id = {attachment_id}."
                )
            return volume.host, [(row.id, row.connection_info is not None) for row in rows]

        with self.db.reader() as session:
            host, found = attachments(session)
        for found_id, connected in found:
            if connected and host is not None and self.hosts is not None:
                try:
                    self.hosts.terminate_connection(ctxt, host, volume_id, found_id, timeout=self.rpc_timeout)
                except OvercastError as error:
                    LOG.warning("force-detach of %s: the volume host did not remove its export: %s",
                                found_id, error.message)  # fmt: skip
            self.db.write(functools.partial(self._forget, attachment_id=found_id, volume_id=volume_id))

    @staticmethod
    def _forget(session: Session, attachment_id: str, volume_id: str) -> None:
        row = session.get(VolumeAttachment, attachment_id)
        if row is not None:
            session.delete(row)
            session.flush()
        if _live_attachments(session, volume_id):
            return
        states.change_status(
            session, volume_id,
            {states.IN_USE, states.DETACHING, states.RESERVED, states.ATTACHING, states.ERROR_ATTACHING,
             states.ERROR_DETACHING},
            states.AVAILABLE, attach_status=states.DETACHED,
        )  # fmt: skip

    # --- reads ----------------------------------------------------------------------------------------
    def get(self, ctxt: RequestContext, attachment_id: str) -> Record:
        with self.db.reader() as session:
            attachment = access.get_attachment(session, ctxt, attachment_id)
            volume = session.get(Volume, attachment.volume_id)
            policy.enforce(ctxt, policies.ATTACHMENT_GET, {"project_id": volume.project_id if volume else ""})
            return attachment_record(attachment)

    # The filters `search` takes (GET /resource_filters lists them).
    LIST_FILTERS = ("volume_id", "instance_id")

    def search(
        self,
        ctxt: RequestContext,
        *,
        volume_id: str | None = None,
        instance_id: str | None = None,
        all_projects: bool = False,
    ) -> list[Record]:
        stmt = select(VolumeAttachment).join(Volume, Volume.id == VolumeAttachment.volume_id)
        if not (all_projects and ctxt.is_admin):
            stmt = stmt.where(Volume.project_id == (ctxt.project_id or ""))
        if volume_id:
            stmt = stmt.where(VolumeAttachment.volume_id == volume_id)
        if instance_id:
            stmt = stmt.where(VolumeAttachment.instance_uuid == instance_id)
        with self.db.reader() as session:
            rows = session.scalars(stmt.order_by(VolumeAttachment.created_at, VolumeAttachment.id))
            return [attachment_record(row) for row in rows]

    def for_volume(self, ctxt: RequestContext, volume_id: str) -> list[Record]:
        with self.db.reader() as session:
            access.get_volume(session, ctxt, volume_id)
        return self.search(ctxt, volume_id=volume_id, all_projects=True)
