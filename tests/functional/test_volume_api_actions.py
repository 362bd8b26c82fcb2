"""Volume actions, metadata, types, quotas and versions through real HTTP against the in-process cloud
with a volume host on the fake volume driver: the legacy attach flow older clients use, admin actions,
retype, upload to an image, private types, quota sets, and per-version fields."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.cloud import InProcessCloud, project_token
from tests.support.volume_host import add_volume_host
from tests.support.waiting import wait_until

CONNECTOR = {"host": "compute-1", "initiator": "iqn.2010-10.org.overcast:host:compute-1", "ip": "127.0.0.1"}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("volume_actions"))
    add_volume_host(running)
    yield running
    running.stop()


class Client:
    """One user's raw Block Storage requests at one microversion."""

    def __init__(self, cloud: InProcessCloud, user: str) -> None:
        self.cloud = cloud
        self.token = project_token(cloud, user)

    def __call__(
        self, method: str, path: str, body: Any = None, *, version: str = "3.0", expect: int | None = None
    ) -> httpx.Response:
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": f"volume {version}"}
        response = httpx.request(
            method, f"{self.cloud.base_url}/volume/v3{path}", headers=headers, json=body, timeout=30
        )
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.text)
        return response

    def volume(self, volume_id: str, version: str = "3.0") -> dict[str, Any]:
        body: dict[str, Any] = self("GET", f"/volumes/{volume_id}", version=version, expect=200).json()
        return body["volume"]

    def wait(self, volume_id: str, status: str) -> dict[str, Any]:
        def reached() -> dict[str, Any]:
            volume = self.volume(volume_id)
            assert volume["status"] not in ("error", "error_extending"), volume
            return volume if volume["status"] == status else {}

        return wait_until(reached, timeout=30, what=f"volume {volume_id} {status}")

    def make(self, size: int = 1, **fields: Any) -> dict[str, Any]:
        created = self("POST", "/volumes", {"volume": {"size": size, **fields}}, expect=202).json()["volume"]
        return self.wait(created["id"], "available")

    def action(
        self, volume_id: str, body: Any, *, version: str = "3.0", expect: int | None = None
    ) -> httpx.Response:
        return self("POST", f"/volumes/{volume_id}/action", body, version=version, expect=expect)


@pytest.fixture(scope="module")
def demo(cloud: InProcessCloud) -> Client:
    return Client(cloud, "demo")


@pytest.fixture(scope="module")
def admin(cloud: InProcessCloud, demo: Client) -> Client:
    admin = Client(cloud, "admin")
    _roomy(admin, demo)
    return admin


def _roomy(admin: Client, demo: Client) -> None:
    """Room for every test's volumes in the demo project (they are left behind for the next tests)."""
    project_id = _project_of(demo)
    admin(
        "PUT", f"/os-quota-sets/{project_id}", {"quota_set": {"volumes": 100, "gigabytes": 1000}}, expect=200
    )


def _project_of(client: Client) -> str:
    token = httpx.get(
        f"{client.cloud.base_url}/identity/v3/auth/tokens",
        headers={"X-Auth-Token": client.token, "X-Subject-Token": client.token},
        timeout=30,
    )
    project_id: str = token.json()["token"]["project"]["id"]
    return project_id


def test_legacy_attach_and_detach_actions(demo: Client) -> None:
    volume = demo.make()
    demo.action(volume["id"], {"os-reserve": None}, expect=202)
    assert demo.volume(volume["id"])["status"] == "attaching"
    info = demo.action(
        volume["id"], {"os-initialize_connection": {"connector": CONNECTOR}}, expect=200
    ).json()
    assert info["connection_info"]["driver_volume_type"] == "fake"
    assert info["connection_info"]["data"]["volume_id"] == volume["id"]
    attach = {"instance_uuid": "server-9", "mountpoint": "/dev/vdb", "mode": "rw"}
    demo.action(volume["id"], {"os-attach": attach}, expect=202)
    shown = demo.volume(volume["id"])
    assert shown["status"] == "in-use"
    assert [(a["server_id"], a["device"]) for a in shown["attachments"]] == [("server-9", "/dev/vdb")]
    demo.action(volume["id"], {"os-begin_detaching": None}, expect=202)
    assert demo.volume(volume["id"])["status"] == "detaching"
    demo.action(volume["id"], {"os-roll_detaching": None}, expect=202)
    demo.action(volume["id"], {"os-terminate_connection": {"connector": CONNECTOR}}, expect=202)
    demo.action(volume["id"], {"os-detach": {}}, expect=202)
    shown = demo.volume(volume["id"])
    assert (shown["status"], shown["attachments"]) == ("available", [])
    demo.action(volume["id"], {"os-reserve": {}}, expect=202)
    demo.action(volume["id"], {"os-unreserve": {}}, expect=202)
    assert demo.volume(volume["id"])["status"] == "available"


def test_action_bodies_are_checked(demo: Client) -> None:
    volume = demo.make()
    bodies: list[Any] = [
        {"os-no-such-action": {}},
        {"os-extend": {}},
        {"os-extend": {"new_size": "x"}},
        {"os-set_bootable": {"bootable": "perhaps"}},
        {"os-update_readonly_flag": {}},
        {"os-extend": {"new_size": 2}, "os-set_bootable": {"bootable": True}},
        [],
    ]
    for body in bodies:
        response = demo.action(volume["id"], body)
        assert response.status_code == 400 and "badRequest" in response.json(), body
    malformed = httpx.post(
        f"{demo.cloud.base_url}/volume/v3/volumes/{volume['id']}/action",
        headers={"X-Auth-Token": demo.token, "Content-Type": "application/json"},
        content=b"{not json",
        timeout=30,
    )
    assert malformed.status_code == 400
    demo.action(volume["id"], {"os-update_readonly_flag": {"readonly": True}}, expect=202)
    demo.action(volume["id"], {"os-set_bootable": {"bootable": "true"}}, expect=200)
    assert demo.volume(volume["id"])["bootable"] == "true"


def test_admin_actions_are_admins(demo: Client, admin: Client) -> None:
    volume = demo.make()
    forbidden = demo.action(volume["id"], {"os-reset_status": {"status": "error"}})
    assert forbidden.status_code == 403 and "forbidden" in forbidden.json()
    admin.action(volume["id"], {"os-reset_status": {"status": "error"}}, expect=202)
    assert demo.volume(volume["id"])["status"] == "error"
    bad = admin.action(volume["id"], {"os-reset_status": {"status": "sparkling"}})
    assert bad.status_code == 400
    assert demo.action(volume["id"], {"os-force_delete": {}}).status_code == 403
    admin.action(volume["id"], {"os-force_delete": {}}, expect=202)
    wait_until(lambda: demo("GET", f"/volumes/{volume['id']}").status_code == 404, timeout=30)


def test_extend_in_use_needs_3_42(demo: Client) -> None:
    volume = demo.make()
    attachment = demo(
        "POST",
        "/attachments",
        {"attachment": {"volume_uuid": volume["id"], "instance_uuid": "s-1"}},
        version="3.27",
        expect=200,
    ).json()["attachment"]
    demo(
        "PUT",
        f"/attachments/{attachment['id']}",
        {"attachment": {"connector": CONNECTOR}},
        version="3.44",
        expect=200,
    )
    demo("POST", f"/attachments/{attachment['id']}/action", {"os-complete": None}, version="3.44", expect=204)
    old = demo.action(volume["id"], {"os-extend": {"new_size": 2}}, version="3.41")
    assert old.status_code == 400 and "available" in old.json()["badRequest"]["message"]
    demo("DELETE", f"/attachments/{attachment['id']}", version="3.44", expect=200)


def test_retype_moves_the_per_type_quota(demo: Client, admin: Client) -> None:
    gold = admin("POST", "/types", {"volume_type": {"name": "gold"}}, expect=200).json()["volume_type"]
    volume = demo.make(2)
    demo.action(volume["id"], {"os-retype": {"new_type": "gold", "migration_policy": "never"}}, expect=202)
    assert demo.volume(volume["id"])["volume_type"] == "gold"
    project = demo.volume(volume["id"], version="3.63")
    assert project["volume_type_id"] == gold["id"]
    quotas = admin("GET", f"/os-quota-sets/{project['os-vol-tenant-attr:tenant_id']}?usage=True", expect=200)
    used = quotas.json()["quota_set"]
    assert used["volumes_gold"]["in_use"] == 1 and used["gigabytes_gold"]["in_use"] == 2
    same = demo.action(volume["id"], {"os-retype": {"new_type": "gold"}})
    assert same.status_code == 400
    refused = admin("DELETE", f"/types/{gold['id']}")
    assert refused.status_code == 400 and "in use" in refused.json()["badRequest"]["message"]
    demo("DELETE", f"/volumes/{volume['id']}", expect=202)
    wait_until(lambda: demo("GET", f"/volumes/{volume['id']}").status_code == 404, timeout=30)
    admin("DELETE", f"/types/{gold['id']}", expect=202)


def test_upload_to_image_makes_a_queued_image_the_volume_host_fills(
    cloud: InProcessCloud, demo: Client
) -> None:
    """The API's half: a queued image in the image service and the volume `uploading` until its host is
    done. This cloud caps images at 64 MiB, so the host's copy of a 1 GiB volume is refused there and the
    volume is `available` again with the image never active (real uploads: the volume service's tests)."""
    volume = demo.make()
    body = {
        "os-volume_upload_image": {
            "image_name": "from-volume",
            "disk_format": "raw",
            "container_format": "bare",
        }
    }
    uploaded = demo.action(volume["id"], body, expect=202).json()["os-volume_upload_image"]
    assert uploaded["image_name"] == "from-volume" and uploaded["status"] == "uploading"
    assert (uploaded["disk_format"], uploaded["container_format"], uploaded["size"]) == ("raw", "bare", 1)
    conn = cloud.connect("demo")
    image = conn.image.get_image(uploaded["image_id"])
    assert (
        image.name == "from-volume"
        and image.owner == demo.volume(volume["id"])["os-vol-tenant-attr:tenant_id"]
    )
    demo.wait(volume["id"], "available")
    assert conn.image.get_image(uploaded["image_id"]).status != "active"
    bad = demo.action(volume["id"], {"os-volume_upload_image": {"image_name": "x", "disk_format": "vhd"}})
    assert bad.status_code == 400


def test_private_types_and_access(demo: Client, admin: Client) -> None:
    secret = admin(
        "POST",
        "/types",
        {"volume_type": {"name": "secret", "os-volume-type-access:is_public": False}},
        expect=200,
    ).json()["volume_type"]
    assert "secret" not in {t["name"] for t in demo("GET", "/types", expect=200).json()["volume_types"]}
    assert demo("POST", "/volumes", {"volume": {"size": 1, "volume_type": "secret"}}).status_code == 404
    project_id = demo.volume(demo.make()["id"])["os-vol-tenant-attr:tenant_id"]
    admin("POST", f"/types/{secret['id']}/action", {"addProjectAccess": {"project": project_id}}, expect=202)
    access = admin("GET", f"/types/{secret['id']}/os-volume-type-access", expect=200).json()
    assert access == {"volume_type_access": [{"volume_type_id": secret["id"], "project_id": project_id}]}
    assert "secret" in {t["name"] for t in demo("GET", "/types", expect=200).json()["volume_types"]}
    assert demo("POST", "/types", {"volume_type": {"name": "mine"}}).status_code == 403
    default = demo("GET", "/types/default", version="3.62", expect=200).json()["volume_type"]
    assert default["name"] == "__DEFAULT__"
    assert demo("GET", "/types/default", version="3.61").status_code == 404


def test_quota_sets_limits_and_over_quota(demo: Client, admin: Client) -> None:
    project_id = demo.volume(demo.make()["id"])["os-vol-tenant-attr:tenant_id"]
    shown = demo("GET", f"/os-quota-sets/{project_id}", expect=200).json()["quota_set"]
    assert shown["volumes"] == 100 and shown["gigabytes"] == 1000 and shown["id"] == project_id
    assert demo("PUT", f"/os-quota-sets/{project_id}", {"quota_set": {"volumes": 100}}).status_code == 403
    bad = admin("PUT", f"/os-quota-sets/{project_id}", {"quota_set": {"volumes": "many"}})
    assert bad.status_code == 400
    used = demo("GET", "/limits", expect=200).json()["limits"]["absolute"]["totalVolumesUsed"]
    admin("PUT", f"/os-quota-sets/{project_id}", {"quota_set": {"volumes": used + 1}}, expect=200)
    demo.make()
    over = demo("POST", "/volumes", {"volume": {"size": 1}})
    assert over.status_code == 413 and "overLimit" in over.json()
    admin("DELETE", f"/os-quota-sets/{project_id}", expect=200)
    defaults = demo("GET", f"/os-quota-sets/{project_id}/defaults", expect=200).json()["quota_set"]
    assert defaults["volumes"] == 10
    _roomy(admin, demo)


def test_metadata_summary_count_and_versions(demo: Client) -> None:
    volume = demo.make(metadata={"a": "1"})
    path = f"/volumes/{volume['id']}/metadata"
    assert demo("POST", path, {"metadata": {"b": "2"}}, expect=200).json() == {
        "metadata": {"a": "1", "b": "2"}
    }
    assert demo("PUT", path, {"metadata": {"c": "3"}}, expect=200).json() == {"metadata": {"c": "3"}}
    assert demo("PUT", f"{path}/d", {"meta": {"d": "4"}}, expect=200).json() == {"meta": {"d": "4"}}
    assert demo("GET", f"{path}/d", expect=200).json() == {"meta": {"d": "4"}}
    assert demo("PUT", f"{path}/d", {"meta": {"e": "5"}}).status_code == 400
    demo("DELETE", f"{path}/d", expect=200)
    assert demo("GET", f"{path}/d").status_code == 404
    demo.action(volume["id"], {"os-set_bootable": {"bootable": True}}, expect=200)
    bootable = {
        v["id"]
        for v in demo("GET", "/volumes?bootable=yes-please", version="3.1", expect=200).json()["volumes"]
    }
    assert volume["id"] in bootable
    assert volume["id"] not in {
        v["id"] for v in demo("GET", "/volumes?bootable=False", expect=200).json()["volumes"]
    }
    assert demo("GET", "/volumes?bootable=yes-please", version="3.2").status_code == 400
    filtered = demo("GET", "/volumes?metadata={'c': '3'}", expect=200).json()["volumes"]
    assert [v["id"] for v in filtered] == [volume["id"]]

    counted = demo("GET", "/volumes/detail?with_count=true", version="3.45", expect=200).json()
    assert counted["count"] == len(counted["volumes"])
    assert "count" not in demo("GET", "/volumes/detail?with_count=true", version="3.44", expect=200).json()
    summary = demo("GET", "/volumes/summary", version="3.36", expect=200).json()["volume-summary"]
    assert summary["total_count"] == counted["count"] and "c" in summary["metadata"]
    assert demo("GET", "/volumes/summary", version="3.11").status_code == 404

    old = demo.volume(volume["id"], version="3.0")
    new = demo.volume(volume["id"], version="3.65")
    assert not {"group_id", "service_uuid", "shared_targets", "volume_type_id", "consumes_quota"} & set(old)
    assert {"group_id", "service_uuid", "shared_targets", "volume_type_id", "consumes_quota"} <= set(new)
    assert "os-vol-host-attr:host" not in new
    page = demo("GET", "/volumes?limit=1&sort=created_at:asc", expect=200).json()
    assert len(page["volumes"]) == 1 and page["volumes_links"][0]["rel"] == "next"
    assert demo("GET", "/volumes?sort=colour:asc").status_code == 400
    assert demo("GET", "/volumes?limit=-1").status_code == 400
    assert demo("GET", "/volumes?marker=no-such-volume").status_code == 400


def test_admin_force_detach_ends_an_attachment_the_compute_host_left(demo: Client, admin: Client) -> None:
    volume = demo.make()
    attachment = demo(
        "POST",
        "/attachments",
        {"attachment": {"volume_uuid": volume["id"], "instance_uuid": "gone"}},
        version="3.44",
        expect=200,
    ).json()["attachment"]
    demo(
        "PUT",
        f"/attachments/{attachment['id']}",
        {"attachment": {"connector": CONNECTOR}},
        version="3.44",
        expect=200,
    )
    demo("POST", f"/attachments/{attachment['id']}/action", {"os-complete": None}, version="3.44", expect=204)
    body = {"os-force_detach": {"attachment_id": attachment["id"], "connector": CONNECTOR}}
    assert demo.action(volume["id"], body).status_code == 403
    missing = admin.action(volume["id"], {"os-force_detach": {"attachment_id": "no-such-attachment"}})
    assert missing.status_code == 404
    admin.action(volume["id"], body, expect=202)
    shown = demo.volume(volume["id"])
    assert (shown["status"], shown["attachments"]) == ("available", [])


def test_all_tenants_is_ignored_for_members(demo: Client, admin: Client) -> None:
    admin.make()
    mine = {v["id"] for v in demo("GET", "/volumes", expect=200).json()["volumes"]}
    asked = {v["id"] for v in demo("GET", "/volumes?all_tenants=1", expect=200).json()["volumes"]}
    assert asked == mine
    everyone = {v["id"] for v in admin("GET", "/volumes?all_tenants=1", expect=200).json()["volumes"]}
    assert mine < everyone


def test_members_see_only_the_user_visible_extra_specs(demo: Client, admin: Client) -> None:
    specs = {"volume_backend_name": "pool", "multiattach": "<is> True"}
    made = admin("POST", "/types", {"volume_type": {"name": "shared-disk", "extra_specs": specs}}, expect=200)
    type_id = made.json()["volume_type"]["id"]
    assert admin("GET", f"/types/{type_id}", expect=200).json()["volume_type"]["extra_specs"] == specs
    shown = demo("GET", f"/types/{type_id}", expect=200).json()["volume_type"]
    assert shown["extra_specs"] == {"multiattach": "<is> True"} and "qos_specs_id" not in shown
    volume = demo.make(volume_type="shared-disk")
    assert volume["multiattach"] is True
    for server in ("server-a", "server-b"):
        body = {"attachment": {"volume_uuid": volume["id"], "instance_uuid": server, "connector": CONNECTOR}}
        attachment = demo("POST", "/attachments", body, version="3.44", expect=200).json()["attachment"]
        demo(
            "POST",
            f"/attachments/{attachment['id']}/action",
            {"os-complete": None},
            version="3.44",
            expect=204,
        )
    shown = demo.volume(volume["id"])
    assert shown["status"] == "in-use" and {a["server_id"] for a in shown["attachments"]} == {
        "server-a",
        "server-b",
    }


def test_image_metadata_actions(demo: Client) -> None:
    volume = demo.make()
    assert demo.action(volume["id"], {"os-show_image_metadata": None}, expect=200).json() == {"metadata": {}}
    body = {"os-set_image_metadata": {"metadata": {"hw_disk_bus": "virtio", "os_distro": "debian"}}}
    set_ = demo.action(volume["id"], body, expect=200).json()
    assert set_ == {"metadata": {"hw_disk_bus": "virtio", "os_distro": "debian"}}
    assert demo.volume(volume["id"])["volume_image_metadata"]["os_distro"] == "debian"
    demo.action(volume["id"], {"os-unset_image_metadata": {"key": "os_distro"}}, expect=200)
    missing = demo.action(volume["id"], {"os-unset_image_metadata": {"key": "os_distro"}})
    assert missing.status_code == 404
    shown = demo.action(volume["id"], {"os-show_image_metadata": {}}, expect=200).json()
    assert shown == {"metadata": {"hw_disk_bus": "virtio"}}
    assert demo.action(volume["id"], {"os-set_image_metadata": {"metadata": "x"}}).status_code == 400
