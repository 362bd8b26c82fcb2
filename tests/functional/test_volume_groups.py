"""Per-project default volume types (3.62) and generic volume groups (3.11-3.20) through real HTTP: with
openstacksdk and the `openstack` CLI as an operator and a project member use them, and raw requests at
the microversions around each feature's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import cast

import httpx
import pytest
from openstack.block_storage.v3._proxy import Proxy as BlockStorage
from openstack.connection import Connection

from tests.support.cloud import InProcessCloud, project_token
from tests.support.volume_host import add_volume_host
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("volume_groups"))
    add_volume_host(running)
    yield running
    running.stop()


def _v3(conn: Connection, version: str = "3.67") -> BlockStorage:
    proxy = cast(BlockStorage, conn.block_storage)
    proxy.default_microversion = version
    return proxy


def _request(
    cloud: InProcessCloud, token: str, method: str, path: str, version: str, body: object = None
) -> httpx.Response:
    headers = {"X-Auth-Token": token, "OpenStack-API-Version": f"volume {version}"}
    return httpx.request(method, f"{cloud.base_url}/volume/v3{path}", headers=headers, json=body, timeout=60)


def _project_id(admin: Connection, name: str) -> str:
    return str(admin.identity.find_project(name, ignore_missing=False).id)


def test_a_projects_default_type_is_what_its_volumes_get(
    cloud: InProcessCloud, admin: Connection, demo: Connection
) -> None:
    operator = _v3(admin)
    demo_project = _project_id(admin, "demo")
    gold = operator.create_type(name="gold-default")

    assert operator.set_default_type(demo_project, gold.id).volume_type_id == gold.id
    assert operator.show_default_type(demo_project).volume_type_id == gold.id
    assert {(d.project_id, d.volume_type_id) for d in operator.default_types()} == {(demo_project, gold.id)}

    member = _v3(demo)
    volume = member.create_volume(size=1, name="typed-by-default")
    wait_until(lambda: member.get_volume(volume.id).status == "available", timeout=30)
    assert member.get_volume(volume.id).volume_type == "gold-default"
    # The project's members see their own default through /types/default as well.
    assert member.get_type("default").id == gold.id

    # A type that is a project's default cannot go; unset, it can once unused.
    token = project_token(cloud, "admin")
    refused = _request(cloud, token, "DELETE", f"/types/{gold.id}", "3.62")
    assert refused.status_code == 400
    assert "is a default volume type" in refused.json()["badRequest"]["message"]
    operator.unset_default_type(demo_project)
    member.delete_volume(volume)
    wait_until(lambda: member.find_volume(volume.id) is None, timeout=30)
    operator.delete_type(gold, ignore_missing=False)
    assert list(operator.default_types()) == []


def test_default_types_answers_as_cinder_does(cloud: InProcessCloud, admin: Connection) -> None:
    token = project_token(cloud, "admin")
    demo_project = _project_id(admin, "demo")
    body = {"default_type": {"volume_type": "__DEFAULT__"}}
    # Below 3.62 the collection does not exist.
    assert _request(cloud, token, "GET", "/default-types", "3.61").status_code == 404
    assert _request(cloud, token, "PUT", f"/default-types/{demo_project}", "3.61", body).status_code == 404
    # An unknown project is a 404, an unknown type a 400, both in Cinder's shape.
    unknown_project = _request(cloud, token, "PUT", "/default-types/no-such-project", "3.62", body)
    assert unknown_project.status_code == 404
    assert "not found" in unknown_project.json()["itemNotFound"]["message"]
    unknown_type = _request(
        cloud, token, "PUT", f"/default-types/{demo_project}", "3.62",
        {"default_type": {"volume_type": "no-such-type"}},
    )  # fmt: skip
    assert unknown_type.status_code == 400
    assert _request(cloud, token, "GET", f"/default-types/{demo_project}", "3.62").status_code == 404
    made = _request(cloud, token, "PUT", f"/default-types/{demo_project}", "3.62", body)
    assert made.status_code == 200
    assert made.json()["default_type"]["project_id"] == demo_project
    # A member may read its own project's default but not set it nor list everyone's.
    member = project_token(cloud, "demo")
    assert _request(cloud, member, "GET", f"/default-types/{demo_project}", "3.62").status_code == 200
    assert _request(cloud, member, "GET", "/default-types", "3.62").status_code == 403
    assert _request(cloud, member, "PUT", f"/default-types/{demo_project}", "3.62", body).status_code == 403
    deleted = _request(cloud, token, "DELETE", f"/default-types/{demo_project}", "3.62")
    assert deleted.status_code == 204


def test_a_member_snapshots_a_group_and_deletes_it_with_its_volumes(
    cloud: InProcessCloud, admin: Connection, demo: Connection
) -> None:
    # The operator makes a group type with the `openstack` CLI.
    made = cloud.openstack(
        "--os-volume-api-version", "3.11", "volume", "group", "type", "create", "--description", "backups",
        "nightly", "-f", "json", user="overcast-admin",
    )  # fmt: skip
    cloud.openstack(
        "--os-volume-api-version", "3.11", "volume", "group", "type", "set", "--property", "tier=fast",
        "nightly", user="overcast-admin",
    )  # fmt: skip
    shown = cloud.openstack(
        "--os-volume-api-version", "3.11", "volume", "group", "type", "show", "nightly", "-f", "json",
        user="overcast-admin",
    )  # fmt: skip
    assert shown["Properties"] == {"tier": "fast"}
    assert made["Name"] == "nightly"
    member = _v3(demo)
    default_type = member.get_type("default")
    group = member.create_group(name="db", group_type="nightly", volume_types=[default_type.id])
    volumes = [
        member.create_volume(size=1, name=f"db-{n}", volume_type=default_type.id, group_id=group.id)
        for n in range(2)
    ]
    for volume in volumes:
        wait_until(lambda v=volume: member.get_volume(v.id).status == "available", timeout=30)
    assert {member.get_volume(v.id).group_id for v in volumes} == {group.id}
    listed = cloud.openstack("--os-volume-api-version", "3.13", "volume", "group", "list", "-f", "json")
    assert [row["Name"] for row in listed] == ["db"]

    snapshot = member.create_group_snapshot(name="db-nightly", group_id=group.id)
    wait_until(lambda: member.get_group_snapshot(snapshot.id).status == "available", timeout=30)
    members = [s for s in member.snapshots(details=True) if s.group_snapshot_id == snapshot.id]
    assert sorted(s.volume_id for s in members) == sorted(v.id for v in volumes)

    # A new group from the group snapshot: a copy of each volume, the group available once they are.
    restored = member.create_group_from_source(
        group_snapshot_id=snapshot.id, source_group_id=None, name="db-restored"
    )
    wait_until(lambda: member.get_group(restored.id).status == "available", timeout=30)
    copies = [v for v in member.volumes(details=True) if v.group_id == restored.id]
    assert len(copies) == 2 and {v.status for v in copies} == {"available"}
    member.delete_group(restored, delete_volumes=True)
    member.wait_for_delete(restored, wait=30)

    member.delete_group_snapshot(snapshot)
    member.wait_for_delete(snapshot, wait=30)
    member.delete_group(group, delete_volumes=True)
    member.wait_for_delete(group, wait=30)
    assert all(member.find_volume(v.id) is None for v in volumes)
    _v3(admin).delete_group_type(made["ID"])


def test_groups_answer_as_cinder_does(cloud: InProcessCloud, admin: Connection) -> None:
    token = project_token(cloud, "admin")
    member = project_token(cloud, "demo")
    # Each collection exists from its microversion on.
    for path, since, before in (("/group_types", "3.11", "3.10"), ("/groups", "3.13", "3.12"),
                                ("/group_snapshots", "3.14", "3.13")):  # fmt: skip
        assert _request(cloud, token, "GET", path, before).status_code == 404
        assert _request(cloud, token, "GET", path, since).status_code == 200
    # Only admins write group types; a member is refused in Cinder's shape.
    refused = _request(cloud, member, "POST", "/group_types", "3.11", {"group_type": {"name": "x"}})
    assert refused.status_code == 403
    made = _request(cloud, token, "POST", "/group_types", "3.11", {"group_type": {"name": "answers"}})
    assert made.status_code == 202
    type_id = made.json()["group_type"]["id"]
    # A group needs its volume types; an unknown group type is a 404.
    no_types = {"group": {"group_type": type_id, "volume_types": []}}
    assert _request(cloud, member, "POST", "/groups", "3.13", no_types).status_code == 400
    unknown = {"group": {"group_type": "no-such-type", "volume_types": ["__DEFAULT__"]}}
    assert _request(cloud, member, "POST", "/groups", "3.13", unknown).status_code == 404
    body = {"group": {"name": "g", "group_type": type_id, "volume_types": ["__DEFAULT__"]}}
    created = _request(cloud, member, "POST", "/groups", "3.13", body)
    assert created.status_code == 202 and set(created.json()["group"]) == {"id", "name"}
    group_id = created.json()["group"]["id"]
    # Fields come with their microversions; project_id only to admins.
    assert (
        "group_snapshot_id"
        not in _request(cloud, member, "GET", f"/groups/{group_id}", "3.13").json()["group"]
    )
    assert (
        "group_snapshot_id" in _request(cloud, member, "GET", f"/groups/{group_id}", "3.14").json()["group"]
    )
    assert "project_id" not in _request(cloud, member, "GET", f"/groups/{group_id}", "3.58").json()["group"]
    assert "project_id" in _request(cloud, token, "GET", f"/groups/{group_id}", "3.58").json()["group"]
    with_volumes = _request(cloud, member, "GET", f"/groups/{group_id}?list_volume=true", "3.25")
    assert with_volumes.json()["group"]["volumes"] == []
    # reset_status is 3.20's and an admin's; a bad status is a 400.
    reset = {"reset_status": {"status": "error"}}
    assert _request(cloud, token, "POST", f"/groups/{group_id}/action", "3.19", reset).status_code == 400
    assert _request(cloud, member, "POST", f"/groups/{group_id}/action", "3.20", reset).status_code == 403
    bogus = {"reset_status": {"status": "bogus"}}
    assert _request(cloud, token, "POST", f"/groups/{group_id}/action", "3.20", bogus).status_code == 400
    assert _request(cloud, token, "POST", f"/groups/{group_id}/action", "3.20", reset).status_code == 202
    # The group type is in use until the group goes.
    assert _request(cloud, token, "DELETE", f"/group_types/{type_id}", "3.11").status_code == 400
    delete = {"delete": {"delete-volumes": False}}
    assert _request(cloud, member, "POST", f"/groups/{group_id}/action", "3.13", delete).status_code == 202
    assert _request(cloud, member, "GET", f"/groups/{group_id}", "3.13").status_code == 404
    assert _request(cloud, token, "DELETE", f"/group_types/{type_id}", "3.11").status_code == 202
