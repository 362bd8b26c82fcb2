"""EC2 ids (`i-…`, `ami-…`, `vol-…`): a prefix and 17 hex digits, one per object, kept in one table.

An object's id is computed from its UUID as metadata/ec2_ids.py's `DerivedEc2Ids` does (so the ids guests
read before the table existed stay theirs; migration 0035 seeded the table with them) and recorded the
first time either API names the object, which is what lets an id be found again: it is the table that
maps an id back to its UUID, its kind and its project.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from overcast.db.base import utcnow
from overcast.db.engine import Database
from overcast.db.models.ec2 import Ec2Id
from overcast.db.value_sets import in_values
from overcast.ec2.errors import Ec2Error
from overcast.metadata.ec2_ids import derived_id

# Each prefix and what AWS calls the resource in error codes (InvalidInstanceID.NotFound, ...).
INSTANCE = "i"
MACHINE_IMAGE, KERNEL_IMAGE, RAMDISK_IMAGE = "ami", "aki", "ari"
IMAGE_KINDS = (MACHINE_IMAGE, KERNEL_IMAGE, RAMDISK_IMAGE)
VOLUME, SNAPSHOT = "vol", "snap"
SECURITY_GROUP, SUBNET, VPC, NETWORK_INTERFACE, ADDRESS = "sg", "subnet", "vpc", "eni", "eipalloc"
KEY_PAIR, RESERVATION = "key", "r"
# What an id's prefix says for each kind: the code of the error when it names nothing, the id's
# parameter name in messages.
NOT_FOUND_CODES = {
    INSTANCE: "InvalidInstanceID.NotFound", MACHINE_IMAGE: "InvalidAMIID.NotFound",
    KERNEL_IMAGE: "InvalidAMIID.NotFound", RAMDISK_IMAGE: "InvalidAMIID.NotFound",
    VOLUME: "InvalidVolume.NotFound", SNAPSHOT: "InvalidSnapshot.NotFound",
    SECURITY_GROUP: "InvalidGroup.NotFound", SUBNET: "InvalidSubnetID.NotFound", VPC: "InvalidVpcID.NotFound",
    NETWORK_INTERFACE: "InvalidNetworkInterfaceID.NotFound", ADDRESS: "InvalidAllocationID.NotFound",
    KEY_PAIR: "InvalidKeyPair.NotFound", RESERVATION: "InvalidReservationID.NotFound",
}  # fmt: skip
MALFORMED_CODES = {
    INSTANCE: "InvalidInstanceID.Malformed", MACHINE_IMAGE: "InvalidAMIID.Malformed",
    KERNEL_IMAGE: "InvalidAMIID.Malformed", RAMDISK_IMAGE: "InvalidAMIID.Malformed",
    VOLUME: "InvalidVolumeID.Malformed", SNAPSHOT: "InvalidSnapshotID.Malformed",
    SECURITY_GROUP: "InvalidGroupId.Malformed", SUBNET: "InvalidSubnetID.Malformed",
    VPC: "InvalidVpcID.Malformed", NETWORK_INTERFACE: "InvalidNetworkInterfaceID.Malformed",
    ADDRESS: "InvalidAllocationID.Malformed", KEY_PAIR: "InvalidKeyPair.Malformed",
    RESERVATION: "InvalidReservationID.Malformed",
}  # fmt: skip
# AWS's ids: the prefix, then 8 (older objects) or 17 hex digits.
_SHAPE = re.compile(r"([a-z]+)-([0-9a-f]{8}|[0-9a-f]{17})")


def image_kind(container_format: str | None) -> str:
    """An image's prefix: Glance's aki/ari container formats are kernels and ramdisks."""
    return container_format if container_format in (KERNEL_IMAGE, RAMDISK_IMAGE) else MACHINE_IMAGE


def check_shape(ec2_id: str, kinds: Collection[str]) -> str:
    """The id's prefix, if the id has AWS's shape and one of `kinds`' prefixes; else AWS's Malformed."""
    found = _SHAPE.fullmatch(ec2_id)
    if found is None or found.group(1) not in kinds:
        first = next(iter(kinds))
        raise Ec2Error(MALFORMED_CODES[first], f'Invalid id: "{ec2_id}"')
    return found.group(1)


@dataclass(frozen=True)
class Named:
    """An object an EC2 id names: its UUID, kind and project."""

    ec2_id: str
    kind: str
    uuid: str
    project_id: str | None


def _insert_ignoring_duplicates(session: Session, rows: list[dict[str, object]]) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(postgresql.insert(Ec2Id).values(rows).on_conflict_do_nothing())
    elif dialect == "sqlite":
        session.execute(sqlite.insert(Ec2Id).values(rows).on_conflict_do_nothing())
    else:
        wanted = [row["ec2_id"] for row in rows]
        known = set(session.scalars(select(Ec2Id.ec2_id).where(Ec2Id.ec2_id.in_(wanted))))
        session.add_all(Ec2Id(**row) for row in rows if row["ec2_id"] not in known)


class IdTable:
    """The one table of EC2 ids; also the metadata service's `Ec2Ids`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def ids_of(self, kind: str, objects: Mapping[str, str | None]) -> dict[str, str]:
        """The ids of the objects of one kind ({uuid: project}), recording the ones first named now."""
        if not objects:
            return {}
        with self.db.reader() as session:
            known = dict(
                session.execute(
                    select(Ec2Id.uuid, Ec2Id.ec2_id).where(
                        Ec2Id.kind == kind, in_values(session, Ec2Id.uuid, list(objects))
                    )
                ).all()
            )
        missing = {uuid: project for uuid, project in objects.items() if uuid not in known}
        if missing:
            now = utcnow()
            rows: list[dict[str, object]] = [
                {"ec2_id": derived_id(kind, uuid), "kind": kind, "uuid": uuid, "project_id": project,
                 "created_at": now}
                for uuid, project in missing.items()
            ]  # fmt: skip
            self.db.write(lambda session: _insert_ignoring_duplicates(session, rows))
            known.update({uuid: derived_id(kind, uuid) for uuid in missing})
        return known

    @staticmethod
    def shown_ids(kind: str, uuids: Iterable[str]) -> dict[str, str]:
        """The ids a listing shows, computed rather than read: each is the id the table holds or will
        hold for the object (recorded when an action names it: resolve's `discover`), so a page of a
        thousand instances costs no query for its ids."""
        return {uuid: derived_id(kind, uuid) for uuid in uuids}

    def id_of(self, kind: str, uuid: str, project_id: str | None) -> str:
        return self.ids_of(kind, {uuid: project_id})[uuid]

    def find(self, session: Session, ec2_ids: Collection[str]) -> dict[str, Named]:
        """The recorded objects of these ids (an id never recorded is absent)."""
        if not ec2_ids:
            return {}
        query = select(Ec2Id).where(in_values(session, Ec2Id.ec2_id, list(ec2_ids)))
        rows = session.scalars(query)
        return {row.ec2_id: Named(row.ec2_id, row.kind, row.uuid, row.project_id) for row in rows}

    def resolve(
        self, ec2_ids: Collection[str], kinds: Collection[str], discover: Callable[[], object] | None = None
    ) -> dict[str, Named]:
        """What each id names; AWS's Malformed for an id of another shape or kind, NotFound for an id
        nothing has (visibility is the caller's: the service objects refuse another project's).

        An object made through the OpenStack APIs has no row until an EC2 action names it: `discover`
        names every object of the kinds the caller can see (a Describe of them), once, on a miss."""
        wanted = {ec2_id: check_shape(ec2_id, kinds) for ec2_id in ec2_ids}
        with self.db.reader() as session:
            found = self.find(session, list(wanted))
        missing = [ec2_id for ec2_id in wanted if ec2_id not in found]
        if missing and discover is not None:
            discover()
            with self.db.reader() as session:
                found.update(self.find(session, missing))
            missing = [ec2_id for ec2_id in wanted if ec2_id not in found]
        if missing:
            raise not_found(wanted[missing[0]], missing)
        return found

    # The metadata service's Ec2Ids. It reads inside its own read transaction, so it records nothing: an
    # object not named yet shows the id it will be recorded with when the EC2 API first names it.
    def recorded_id(self, kind: str, uuid: str) -> str:
        with self.db.reader() as session:
            found = session.scalar(select(Ec2Id.ec2_id).where(Ec2Id.kind == kind, Ec2Id.uuid == uuid))
        return found or derived_id(kind, uuid)

    def instance_id(self, instance_uuid: str) -> str:
        return self.recorded_id(INSTANCE, instance_uuid)

    def image_id(self, image_uuid: str, prefix: str = MACHINE_IMAGE) -> str:
        return self.recorded_id(prefix, image_uuid)


def not_found(kind: str, ec2_ids: Collection[str]) -> Ec2Error:
    listed = ", ".join(f"'{ec2_id}'" for ec2_id in ec2_ids)
    what = {INSTANCE: "instance ID", MACHINE_IMAGE: "image ID"}.get(kind, "ID")
    return Ec2Error(NOT_FOUND_CODES[kind], f"The {what} {listed} does not exist")
