"""Volume types, QoS specs and quota sets through VolumeAPI on a real database: Cinder's rules and
words for names, the default type, types in use, access to private types, spec keys and values, and
the front-end QoS an attachment's connection_info carries."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.db import Database
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound, RequestTooLarge
from overcast.volume import states
from overcast.volume.api.service import VolumeAPI
from tests.unit.volume.volume_api_support import (
    ADMIN,
    ALICE,
    BOB,
    RecordingHosts,
    register_volume_host,
    volume_api,
)

CONNECTOR = {"host": "compute1", "initiator": "iqn.2010-10.org.overcast:host:compute1"}


@pytest.fixture
def api(db: Database, tmp_path: Path) -> VolumeAPI:
    register_volume_host(db)
    return volume_api(db, tmp_path, RecordingHosts())


def test_type_rules(api: VolumeAPI) -> None:
    gold = api.types.create(ADMIN, {"name": "gold", "extra_specs": {"volume_backend_name": "pool"}})
    with pytest.raises(Conflict, match="already exists"):
        api.types.create(ADMIN, {"name": "gold"})
    with pytest.raises(Forbidden):
        api.types.create(ALICE, {"name": "mine"})
    with pytest.raises(BadRequest):
        api.types.create(ADMIN, {"name": "  "})
    default = api.types.get(ALICE, "default")
    with pytest.raises(BadRequest, match="Default volume type can not be deleted"):
        api.types.delete(ADMIN, default["id"])
    volume = api.create(ALICE, 1, volume_type="gold")
    with pytest.raises(BadRequest, match="still in use"):
        api.types.delete(ADMIN, gold["id"])
    with pytest.raises(BadRequest, match="public volume type"):
        api.types.change_access(ADMIN, gold["id"], "project-a", add=True)
    assert api.get(ALICE, volume["id"])["volume_type"] == "gold"


def test_private_type_access(api: VolumeAPI) -> None:
    secret = api.types.create(ADMIN, {"name": "secret", "os-volume-type-access:is_public": False})
    with pytest.raises(NotFound):
        api.types.get(ALICE, secret["id"])
    api.types.change_access(ADMIN, secret["id"], "project-a", add=True)
    with pytest.raises(Conflict):
        api.types.change_access(ADMIN, secret["id"], "project-a", add=True)
    assert api.types.get(ALICE, secret["id"])["name"] == "secret"
    assert "secret" not in {t["name"] for t in api.types.list_all(BOB)}
    api.create(ALICE, 1, volume_type="secret")
    with pytest.raises(NotFound):
        api.create(BOB, 1, volume_type="secret")


def test_qos_specs_keys_values_and_associations(api: VolumeAPI) -> None:
    with pytest.raises(BadRequest, match="not one of"):
        api.qos_specs.create(ADMIN, {"name": "q", "iops": "5"})
    with pytest.raises(BadRequest, match="positive integer"):
        api.qos_specs.create(ADMIN, {"name": "q", "read_iops_sec": "-5"})
    with pytest.raises(BadRequest, match="consumer"):
        api.qos_specs.create(ADMIN, {"name": "q", "consumer": "middle"})
    qos = api.qos_specs.create(ADMIN, {"name": "q", "consumer": "front-end", "total_bytes_sec": 1048576})
    assert qos["specs"] == {"total_bytes_sec": "1048576"}
    fast = api.types.create(ADMIN, {"name": "fast"})
    api.qos_specs.associate(ADMIN, qos["id"], fast["id"])
    assert api.qos_specs.associations(ADMIN, qos["id"]) == [
        {"association_type": "volume_type", "name": "fast", "id": fast["id"]}
    ]
    with pytest.raises(BadRequest, match="still associated"):
        api.qos_specs.delete(ADMIN, qos["id"], force=False)

    volume = api.create(ALICE, 1, volume_type="fast")
    api.db.write(
        lambda session: states.change_status(session, volume["id"], {states.CREATING}, states.AVAILABLE)
    )
    attachment = api.attachment_create(ALICE, volume["id"], "server-1")
    info = api.attachment_update(ALICE, attachment["id"], CONNECTOR)
    assert info["data"]["qos_specs"] == {"total_bytes_sec": "1048576"}

    api.qos_specs.set_keys(ADMIN, qos["id"], {"consumer": "back-end"})  # the hypervisor no longer throttles
    second = api.create(ALICE, 1, volume_type="fast")
    api.db.write(
        lambda session: states.change_status(session, second["id"], {states.CREATING}, states.AVAILABLE)
    )
    attachment = api.attachment_create(ALICE, second["id"], "server-2")
    assert api.attachment_update(ALICE, attachment["id"], CONNECTOR)["data"]["qos_specs"] is None
    api.qos_specs.disassociate_all(ADMIN, qos["id"])
    api.qos_specs.delete(ADMIN, qos["id"], force=False)


def test_quota_sets(api: VolumeAPI) -> None:
    api.create(ALICE, 3)
    shown = api.quota_sets.show(ALICE, "project-a", usage=True)
    assert shown["volumes"] == {"limit": 10, "in_use": 1, "reserved": 0, "allocated": 0}
    assert shown["gigabytes"]["in_use"] == 3
    with pytest.raises(Forbidden):
        api.quota_sets.show(BOB, "project-a", usage=False)
    with pytest.raises(Forbidden):
        api.quota_sets.update(ALICE, "project-a", {"volumes": 1})
    with pytest.raises(BadRequest, match="Bad key"):
        api.quota_sets.update(ADMIN, "project-a", {"volumes_no_such_type": 1})
    with pytest.raises(BadRequest):
        api.quota_sets.update(ADMIN, "project-a", {"volumes": 0})  # below what is used, without force
    assert api.quota_sets.update(ADMIN, "project-a", {"per_volume_gigabytes": 2})["per_volume_gigabytes"] == 2
    with pytest.raises(RequestTooLarge, match="larger than maximum allowed limit 2G"):
        api.create(ALICE, 3)
    api.quota_sets.reset(ADMIN, "project-a")
    assert api.quota_sets.show(ADMIN, "project-a", usage=False)["per_volume_gigabytes"] == -1
    limits = api.quota_sets.absolute_limits(ALICE)
    assert (limits["maxTotalVolumes"], limits["totalVolumesUsed"], limits["totalGigabytesUsed"]) == (10, 1, 3)
