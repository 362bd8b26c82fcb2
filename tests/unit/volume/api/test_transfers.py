"""Volume transfers through VolumeAPI: the auth key shown once and kept only hashed, accept by another
project moving the volume, its snapshots and their quota in one transaction, and the refusals."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from overcast.db.models.volume_backup import VolumeTransfer
from overcast.errors import BadRequest, NotFound, RequestTooLarge
from overcast.volume.api.service import VolumeAPI
from tests.unit.volume.data_support import InProcessHost, usage
from tests.unit.volume.volume_api_support import ADMIN, ALICE, BOB


def test_accept_moves_volume_snapshots_and_quota(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 2)
    snapshot = api.snapshots.create(ALICE, volume["id"])
    transfer = api.transfers.create(ALICE, volume["id"], name="gift")
    assert len(transfer["auth_key"]) == 16
    assert api.get(ALICE, volume["id"])["status"] == "awaiting-transfer"
    with api.db.reader() as session:
        row = session.scalars(select(VolumeTransfer)).one()
        assert transfer["auth_key"] not in (row.crypt_hash, row.salt)
    assert "auth_key" not in api.transfers.get(ALICE, transfer["id"])
    assert [t["id"] for t in api.transfers.list(ALICE)] == [transfer["id"]]
    assert api.transfers.list(BOB) == []

    with pytest.raises(BadRequest, match="invalid auth key"):
        api.transfers.accept(BOB, transfer["id"], "0" * 16)
    assert api.get(ALICE, volume["id"])["status"] == "awaiting-transfer"

    accepted = api.transfers.accept(BOB, transfer["id"], transfer["auth_key"])
    assert accepted == {"id": transfer["id"], "name": "gift", "volume_id": volume["id"]}
    moved = api.get(BOB, volume["id"])
    assert moved["status"] == "available" and moved["os-vol-tenant-attr:tenant_id"] == BOB.project_id
    assert (
        api.snapshots.get(BOB, snapshot["id"])["os-extended-snapshot-attributes:project_id"] == BOB.project_id
    )
    with pytest.raises(NotFound):
        api.get(ALICE, volume["id"])
    assert usage(api, ALICE.project_id)["volumes"] == 0 and usage(api, ALICE.project_id)["gigabytes"] == 0
    assert usage(api, BOB.project_id)["volumes"] == 1 and usage(api, BOB.project_id)["gigabytes"] == 4
    assert usage(api, BOB.project_id)["snapshots"] == 1
    with pytest.raises(NotFound):
        api.transfers.accept(BOB, transfer["id"], transfer["auth_key"])


def test_accept_over_the_receivers_quota_is_413_and_moves_nothing(
    cloud: tuple[VolumeAPI, InProcessHost],
) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 2)
    transfer = api.transfers.create(ALICE, volume["id"])
    with api.db.writer() as session:
        api.quota_engine.set_limits(session, BOB.project_id or "", {"gigabytes": 1})
    with pytest.raises(RequestTooLarge):
        api.transfers.accept(BOB, transfer["id"], transfer["auth_key"])
    assert api.get(ALICE, volume["id"])["status"] == "awaiting-transfer"
    assert usage(api, BOB.project_id)["gigabytes"] == 0


def test_delete_gives_the_volume_back_and_busy_volumes_refuse(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1)
    transfer = api.transfers.create(ALICE, volume["id"])
    with pytest.raises(BadRequest, match="status must be available"):
        api.transfers.create(ALICE, volume["id"])
    with pytest.raises(NotFound):
        api.transfers.delete(BOB, transfer["id"])
    api.transfers.delete(ALICE, transfer["id"])
    assert api.get(ALICE, volume["id"])["status"] == "available"
    assert api.transfers.list(ADMIN, all_projects=True) == []
    with pytest.raises(NotFound):
        api.transfers.create(BOB, volume["id"])
