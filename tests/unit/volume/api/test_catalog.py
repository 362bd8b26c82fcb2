"""GET /resource_filters' answer through VolumeAPI's catalog: each listed filter is one its list really
honours (a value no row has empties the list), and the attachment and type filters are what their
list calls take."""

from __future__ import annotations

import inspect
from typing import Any

from overcast.volume.api import catalog, volumes
from overcast.volume.api.attachments import Attachments
from overcast.volume.api.service import VolumeAPI
from overcast.volume.api.snapshots import EXACT_FILTERS, ListOptions
from overcast.volume.api.types import VolumeTypes
from tests.unit.volume.data_support import InProcessHost
from tests.unit.volume.volume_api_support import ADMIN, ALICE

# A value of each volume filter that the one volume below does not have.
UNMATCHED: dict[str, Any] = {
    "id": "00000000-0000-0000-0000-000000000000", "name": "other", "status": "error",
    "availability_zone": "elsewhere", "bootable": "true", "size": "7", "volume_type": "no-such-type",
    "volume_type_id": "no-such-type", "snapshot_id": "snap", "source_volid": "vol", "group_id": "group",
    "user_id": "bob", "metadata": {"tier": "gold"}, "migration_status": "migrating",
}  # fmt: skip


def test_the_catalog_lists_every_resource_or_the_one_asked(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    listed = api.catalog.resource_filters(ALICE)
    assert {entry["resource"] for entry in listed} == set(catalog.RESOURCE_FILTERS)
    assert api.catalog.resource_filters(ALICE, "volume") == [
        {"resource": "volume", "filters": list(volumes.LIST_FILTERS)}
    ]
    assert api.catalog.resource_filters(ALICE, "message") == []


def test_every_volume_filter_listed_narrows_the_list(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1, name="mine")
    assert set(UNMATCHED) == set(volumes.LIST_FILTERS)
    for name, value in UNMATCHED.items():
        ctxt = ADMIN if name == "migration_status" else ALICE  # an admin's filter
        found, _ = api.volumes.list(ctxt, filters={name: value}, all_projects=ctxt is ADMIN)
        assert found == [], name
    assert [v["id"] for v in api.volumes.list(ALICE, filters={"name": "mine"})[0]] == [volume["id"]]


def test_every_snapshot_filter_listed_narrows_the_list(cloud: tuple[VolumeAPI, InProcessHost]) -> None:
    api, _ = cloud
    volume = api.create(ALICE, 1)
    api.snapshots.create(ALICE, volume["id"], name="snap", metadata={"why": "test"})
    assert len(api.snapshots.list(ALICE)[0]) == 1
    for name in (*EXACT_FILTERS, "metadata"):
        value: Any = {"why": "not"} if name == "metadata" else "nothing-has-this"
        assert api.snapshots.list(ALICE, ListOptions(filters={name: value}))[0] == [], name


def test_attachment_and_type_filters_are_their_list_calls_parameters() -> None:
    def keywords(function: Any) -> set[str]:
        parameters = inspect.signature(function).parameters.values()
        return {p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY} - {"all_projects"}

    assert keywords(Attachments.search) == set(catalog.RESOURCE_FILTERS["attachment"])
    assert keywords(VolumeTypes.list_all) == set(catalog.RESOURCE_FILTERS["volume_type"])
