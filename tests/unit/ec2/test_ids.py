"""The EC2 id table: one id per object, the one the metadata service derived, found again by id."""

from __future__ import annotations

import pytest

from overcast.db.engine import Database
from overcast.ec2 import ids
from overcast.ec2.errors import Ec2Error
from overcast.ec2.ids import IdTable
from overcast.metadata.ec2_ids import DerivedEc2Ids


def test_ids_are_the_derived_ones_and_stable(db: Database) -> None:
    table = IdTable(db)
    uuids = {f"00000000-0000-0000-0000-{n:012d}": "project" for n in range(20)}
    first = table.ids_of(ids.INSTANCE, uuids)
    assert first == table.ids_of(ids.INSTANCE, uuids)
    derived = DerivedEc2Ids()
    assert all(first[uuid] == derived.instance_id(uuid) for uuid in uuids)
    assert table.instance_id(next(iter(uuids))) == derived.instance_id(next(iter(uuids)))
    found = table.resolve([first[next(iter(uuids))]], (ids.INSTANCE,))
    assert next(iter(found.values())).uuid == next(iter(uuids))


def test_a_kernel_and_a_machine_image_of_one_uuid_have_their_own_ids(db: Database) -> None:
    table = IdTable(db)
    uuid = "11111111-2222-3333-4444-555555555555"
    assert table.id_of(ids.KERNEL_IMAGE, uuid, None).startswith("aki-")
    assert table.id_of(ids.MACHINE_IMAGE, uuid, None).startswith("ami-")


@pytest.mark.parametrize(
    ("ec2_id", "code"),
    [
        ("i-123", "InvalidInstanceID.Malformed"),
        ("vol-0123456789abcdef0", "InvalidInstanceID.Malformed"),
        ("i-0123456789ABCDEF0", "InvalidInstanceID.Malformed"),
        ("i-0123456789abcdef0", "InvalidInstanceID.NotFound"),
    ],
)
def test_unknown_and_malformed_ids(db: Database, ec2_id: str, code: str) -> None:
    with pytest.raises(Ec2Error) as error:
        IdTable(db).resolve([ec2_id], (ids.INSTANCE,))
    assert error.value.code == code


def test_an_id_first_named_elsewhere_is_found_by_discovery(db: Database) -> None:
    table = IdTable(db)
    uuid = "99999999-2222-3333-4444-555555555555"
    ec2_id = DerivedEc2Ids().instance_id(uuid)
    found = table.resolve([ec2_id], (ids.INSTANCE,), discover=lambda: table.ids_of(ids.INSTANCE, {uuid: "p"}))
    assert found[ec2_id].uuid == uuid
