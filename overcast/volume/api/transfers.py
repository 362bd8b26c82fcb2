"""Volume transfers: a project offers an available volume (it goes awaiting-transfer), gets an auth key
shown once (only a salted hash is kept), and whoever presents the key from another project accepts it:
the volume (and, unless no_snapshots, its snapshots) moves there, with its quota counted in the new
project and given back in the old one, all in one transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.volume import Snapshot, Volume, VolumeType
from overcast.db.models.volume_backup import VolumeTransfer
from overcast.db.pagination import paginate
from overcast.errors import BadRequest, NotFound, QuotaExceeded
from overcast.volume import policies, quotas, states
from overcast.volume.api import access
from overcast.volume.api.records import Record, timestamp
from overcast.volume.api.volumes import check_text, strict_bool

# Cinder's auth keys are 16 characters from a small alphabet; ours are 16 hex digits (64 random bits).
AUTH_KEY_BYTES = 8


def _hash(salt: str, auth_key: str) -> str:
    return hmac.new(salt.encode(), auth_key.encode(), hashlib.sha256).hexdigest()


def get_transfer(session: Session, ctxt: RequestContext, transfer_id: str) -> VolumeTransfer:
    transfer = session.get(VolumeTransfer, transfer_id)
    if transfer is None or not (ctxt.is_admin or transfer.source_project_id == ctxt.project_id):
        raise NotFound(f"Transfer {transfer_id} could not be found.")
    return transfer


def transfer_record(transfer: VolumeTransfer) -> Record:
    """Cinder's transfer view (3.57's fields too; the router drops what the microversion does not show)."""
    return {
        "id": transfer.id,
        "name": transfer.name,
        "volume_id": transfer.volume_id,
        "created_at": timestamp(transfer.created_at),
        "no_snapshots": transfer.no_snapshots,
        "source_project_id": transfer.source_project_id,
        "destination_project_id": None,
        "accepted": False,
    }


class Transfers:
    def __init__(self, db: Database, engine: quotas.VolumeQuotaEngine) -> None:
        self.db = db
        self.engine = engine

    def create(
        self, ctxt: RequestContext, volume_id: Any, *, name: Any = None, no_snapshots: Any = False
    ) -> Record:
        if not isinstance(volume_id, str) or not volume_id:
            raise BadRequest("Invalid input received: volume_id must be a volume's id.")
        checked_name = check_text(name, "name")
        skip_snapshots = strict_bool(no_snapshots, "no_snapshots")
        auth_key = secrets.token_hex(AUTH_KEY_BYTES)
        salt = secrets.token_hex(8)

        def write(session: Session) -> Record:
            volume = access.get_volume(session, ctxt, volume_id)
            policy.enforce(ctxt, policies.TRANSFER_CREATE, {"project_id": volume.project_id})
            if not skip_snapshots:
                busy = session.scalar(
                    select(func.count())
                    .select_from(Snapshot)
                    .where(Snapshot.volume_id == volume.id, Snapshot.status != states.SNAPSHOT_AVAILABLE)
                )
                if busy:
                    raise BadRequest(
                        "Invalid snapshot: Snapshots of the volume must all be available to transfer."
                    )
            if not states.start(session, volume.id, "transfer"):
                raise BadRequest(
                    f"Invalid volume: status must be available, but current status is: {volume.status}."
                )
            transfer = VolumeTransfer(
                id=str(uuid.uuid4()),
                volume_id=volume.id,
                name=checked_name,
                salt=salt,
                crypt_hash=_hash(salt, auth_key),
                no_snapshots=skip_snapshots,
                source_project_id=volume.project_id,
            )
            session.add(transfer)
            session.flush()
            return {**transfer_record(transfer), "auth_key": auth_key}

        return self.db.write(write)

    def get(self, ctxt: RequestContext, transfer_id: str) -> Record:
        with self.db.reader() as session:
            transfer = get_transfer(session, ctxt, transfer_id)
            policy.enforce(ctxt, policies.TRANSFER_GET, {"project_id": transfer.source_project_id})
            return transfer_record(transfer)

    def list(
        self,
        ctxt: RequestContext,
        *,
        filters: Mapping[str, Any] | None = None,
        marker: str | None = None,
        limit: int | None = None,
        all_projects: bool = False,
    ) -> list[Record]:
        policy.enforce(ctxt, policies.TRANSFER_GET_ALL, {"project_id": ctxt.project_id})
        filters = dict(filters or {})
        stmt = select(VolumeTransfer)
        if not (all_projects and ctxt.is_admin):
            stmt = stmt.where(VolumeTransfer.source_project_id == (ctxt.project_id or ""))
        for key in ("name", "volume_id", "id"):
            if filters.get(key) is not None:
                stmt = stmt.where(getattr(VolumeTransfer, key) == filters[key])
        with self.db.reader() as session:
            page = paginate(
                stmt,
                VolumeTransfer,
                sort_keys=[("created_at", "desc")],
                marker=marker,
                limit=limit,
                marker_column="id",
                session=session,
            )
            return [transfer_record(transfer) for transfer in session.scalars(page)]

    def delete(self, ctxt: RequestContext, transfer_id: str) -> None:
        def write(session: Session) -> None:
            transfer = get_transfer(session, ctxt, transfer_id)
            policy.enforce(ctxt, policies.TRANSFER_DELETE, {"project_id": transfer.source_project_id})
            states.change_status(session, transfer.volume_id, {states.AWAITING_TRANSFER}, states.AVAILABLE)
            session.delete(transfer)

        self.db.write(write)

    def accept(self, ctxt: RequestContext, transfer_id: str, auth_key: Any) -> Record:
        if not isinstance(auth_key, str) or not auth_key:
            raise BadRequest("Invalid input received: auth_key is required.")

        def write(session: Session) -> Record:
            policy.enforce(ctxt, policies.TRANSFER_ACCEPT, {"project_id": ctxt.project_id})
            # The key is the authorization: the accepting project cannot see the transfer otherwise.
            transfer = session.get(VolumeTransfer, transfer_id)
            if transfer is None:
                raise NotFound(f"Transfer {transfer_id} could not be found.")
            if not hmac.compare_digest(transfer.crypt_hash, _hash(transfer.salt, auth_key)):
                raise BadRequest(
                    f"Invalid auth key: Attempt to transfer {transfer_id} with invalid auth key."
                )
            volume = session.get(Volume, transfer.volume_id)
            if volume is None or not states.change_status(
                session, volume.id, {states.AWAITING_TRANSFER}, states.AVAILABLE
            ):
                raise BadRequest(f"Invalid volume: Volume {transfer.volume_id} is not awaiting a transfer.")
            self._move(session, ctxt, volume, move_snapshots=not transfer.no_snapshots)
            record = {"id": transfer.id, "name": transfer.name, "volume_id": transfer.volume_id}
            session.delete(transfer)
            return record

        return self.db.write(write)

    def _move(self, session: Session, ctxt: RequestContext, volume: Volume, *, move_snapshots: bool) -> None:
        """The volume (and its snapshots) into the caller's project, quota moving with them."""
        source, destination = volume.project_id, ctxt.project_id or ""
        volume_type = session.get(VolumeType, volume.volume_type_id)
        type_name = volume_type.name if volume_type is not None else ""
        deltas: dict[str, int] = dict(quotas.volume_deltas(volume, type_name))
        snapshots = list(session.scalars(select(Snapshot).where(Snapshot.volume_id == volume.id)))
        if move_snapshots:
            for snapshot in snapshots:
                for key, value in quotas.snapshot_deltas(snapshot, type_name).items():
                    deltas[key] = deltas.get(key, 0) + value
        try:
            self.engine.consume(session, destination, deltas)
        except QuotaExceeded as exceeded:
            raise quotas.quota_error(exceeded, volume.size) from None
        self.engine.release(session, source, deltas)
        changed = {"project_id": destination, "user_id": ctxt.user_id or ""}
        session.execute(
            update(Volume)
            .where(Volume.id == volume.id)
            .values(**changed)
            .execution_options(synchronize_session=False)
        )
        if move_snapshots and snapshots:
            session.execute(
                update(Snapshot)
                .where(Snapshot.volume_id == volume.id)
                .values(**changed)
                .execution_options(synchronize_session=False)
            )
