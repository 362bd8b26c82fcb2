"""Servers through the real clients: the `openstack` CLI's boot (block_device_mapping_v2), availability
zones, the list filters, sorting and paging of GET /servers, and server tags."""

from __future__ import annotations

from typing import Any

import pytest
from openstack import exceptions as sdk_exceptions
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud

WAIT = {"interval": 0.1, "wait": 30}


def boot(conn: Connection, name: str, **extra: Any) -> Any:
    extra.setdefault("networks", "none")
    server = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, **extra)
    return conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], **WAIT)


def delete(conn: Connection, *servers: Any) -> None:
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, **WAIT)


def get(conn: Connection, path: str, version: str = "2.62") -> Any:
    return conn.compute.get(path, microversion=version)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return [server["name"] for server in response.json()["servers"]]


def test_the_cli_boots_lists_shows_and_deletes_a_server(cloud: InProcessCloud) -> None:
    # OSC sends the image twice: as imageRef and as a block_device_mapping_v2 root disk.
    created = cloud.openstack("server", "create", "--image", IMAGE_ID, "--flavor", "m1.tiny", "--wait",
                              "cli-vm", "-f", "json")  # fmt: skip
    assert created["status"] == "ACTIVE" and created["name"] == "cli-vm"
    listed = cloud.openstack("server", "list", "-f", "json")
    assert [(row["Name"], row["Status"]) for row in listed] == [("cli-vm", "ACTIVE")]
    shown = cloud.openstack("server", "show", "cli-vm", "-f", "json")
    assert shown["id"] == created["id"] and "m1.tiny" in str(shown["flavor"])
    cloud.openstack("server", "delete", "--wait", "cli-vm")
    assert cloud.openstack("server", "list", "-f", "json") == []


def test_block_device_mapping_v2_alone_boots_from_its_image(demo: Connection) -> None:
    root = {"source_type": "image", "destination_type": "local", "boot_index": 0, "uuid": IMAGE_ID,
            "delete_on_termination": True}  # fmt: skip
    body = {"server": {"name": "bdm-only", "flavorRef": TINY, "networks": "none",
                       "block_device_mapping_v2": [root]}}  # fmt: skip
    response = demo.compute.post("/servers", json=body, microversion="2.62")
    assert response.status_code == 202, response.text
    server = demo.compute.wait_for_server(demo.compute.get_server(response.json()["server"]["id"]), **WAIT)
    assert server.image["id"] == IMAGE_ID
    # Mappings that disagree with imageRef are a 400 (boot from volume: test_volume_attachments.py).
    other = dict(body["server"], imageRef="9c1f6a88-0000-4000-8000-000000000000")
    assert demo.compute.post("/servers", json={"server": other}, microversion="2.62").status_code == 400
    delete(demo, server)


def test_availability_zones_at_create_and_in_views(tmp_path_factory: pytest.TempPathFactory) -> None:
    cloud = InProcessCloud(tmp_path_factory.mktemp("zones"))
    try:
        admin, demo = cloud.connect("admin"), cloud.connect("demo")
        rack = admin.compute.create_aggregate(name="rack-1", availability_zone="az1")
        admin.compute.add_host_to_aggregate(rack, "compute-1")
        zoned = boot(demo, "in-az1", availability_zone="az1")
        assert zoned.availability_zone == "az1"
        assert admin.compute.get_server(zoned.id).compute_host == "compute-1"
        # A server placed in the default zone shows it once it has a host.
        plain = boot(demo, "anywhere", availability_zone="nova")
        placed = admin.compute.get_server(plain.id).compute_host
        assert (plain.availability_zone, placed) == ("nova", "compute-2")
        with pytest.raises(sdk_exceptions.BadRequestException, match="availability zone is not available"):
            demo.compute.create_server(name="nowhere", image_id=IMAGE_ID, flavor_id=TINY, networks="none",
                                       availability_zone="az9")  # fmt: skip
        delete(demo, zoned, plain)
    finally:
        cloud.stop()


def test_list_filters(demo: Connection, admin: Connection) -> None:
    web1, web2, db1 = (boot(demo, name) for name in ("web-1", "web-2", "db-1"))
    assert sorted(s.name for s in demo.compute.servers(name="^web")) == ["web-1", "web-2"]
    assert names(get(demo, "/servers?name=1$&sort_key=display_name&sort_dir=asc")) == ["db-1", "web-1"]
    bad_regex = get(demo, "/servers?name=(web")
    assert bad_regex.status_code == 400 and "regular expression" in bad_regex.text
    demo.compute.stop_server(db1)
    demo.compute.wait_for_server(db1, status="SHUTOFF", **WAIT)
    assert names(get(demo, "/servers?status=SHUTOFF")) == ["db-1"]
    assert sorted(names(get(demo, "/servers?status=SHUTOFF&status=ACTIVE"))) == ["db-1", "web-1", "web-2"]
    # An unknown status: an empty list before 2.38, a 400 from it.
    assert names(get(demo, "/servers?status=NAPPING", "2.37")) == []
    assert get(demo, "/servers?status=NAPPING", "2.38").status_code == 400
    assert len(names(get(demo, f"/servers?flavor={TINY}&image={IMAGE_ID}"))) == 3
    assert names(get(demo, "/servers?flavor=no-such-flavor")) == []
    # The fake driver's servers are on user-mode NAT at 10.0.2.15 (as QEMU's); none has an IPv6 address
    # (ip6 only counts for members from 2.5).
    assert len(names(get(demo, "/servers?ip=10.0.2."))) == 3
    assert names(get(demo, "/servers?ip=192.0.2.")) == []
    assert len(names(get(demo, "/servers?ip6=fe80", "2.4"))) == 3
    # host is an admin's filter; a member's is dropped, as Nova drops it.
    assert len(names(get(demo, "/servers?host=compute-9"))) == 3
    assert names(get(admin, "/servers?all_tenants=1&host=compute-9")) == []
    admins_own = boot(admin, "admins-own")
    everyone = names(get(admin, "/servers?all_tenants=true"))
    assert sorted(everyone) == ["admins-own", "db-1", "web-1", "web-2"]
    demo_project = web1.project_id
    assert sorted(names(get(admin, f"/servers?all_tenants=1&project_id={demo_project}"))) == [
        "db-1", "web-1", "web-2",
    ]  # fmt: skip
    assert names(get(admin, "/servers")) == ["admins-own"]
    assert get(demo, "/servers?all_tenants=1").status_code == 403
    delete(admin, admins_own)
    delete(demo, web1, web2, db1)


def test_changes_since_lists_deleted_servers(demo: Connection) -> None:
    kept, gone = boot(demo, "kept"), boot(demo, "gone")
    since = get(demo, f"/servers/{kept.id}").json()["server"]["created"]
    delete(demo, gone)
    assert names(get(demo, "/servers/detail")) == ["kept"]
    changed = get(demo, f"/servers/detail?changes-since={since}").json()["servers"]
    ours = {s["name"]: s["status"] for s in changed if s["name"] in ("kept", "gone")}
    assert ours == {"kept": "ACTIVE", "gone": "DELETED"}
    # A deleted server is no marker for an ordinary list.
    refused = get(demo, f"/servers?marker={gone.id}")
    assert refused.status_code == 400 and f"marker [{gone.id}] not found" in refused.text
    delete(demo, kept)


def test_sorting_and_paging(cloud: InProcessCloud, demo: Connection) -> None:
    made = [boot(demo, name) for name in ("p-c", "p-a", "p-b")]
    assert names(get(demo, "/servers?sort_key=display_name&sort_dir=asc")) == ["p-a", "p-b", "p-c"]
    assert names(get(demo, "/servers?sort_key=display_name&sort_dir=desc")) == ["p-c", "p-b", "p-a"]
    # Several keys; the default direction is Nova's desc.
    assert names(get(demo, "/servers?sort_key=vm_state&sort_key=display_name")) == ["p-c", "p-b", "p-a"]
    assert get(demo, "/servers?sort_key=bogus").status_code == 400
    assert get(demo, "/servers?sort_key=display_name&sort_dir=sideways").status_code == 400
    first = get(demo, "/servers?sort_key=display_name&sort_dir=asc&limit=2").json()
    assert [s["name"] for s in first["servers"]] == ["p-a", "p-b"]
    (link,) = first["servers_links"]
    assert link["rel"] == "next" and f"marker={first['servers'][-1]['id']}" in link["href"]
    assert link["href"].startswith(f"{cloud.base_url}/compute/v2.1/servers?")
    rest = demo.compute.get(link["href"], microversion="2.62").json()
    assert [s["name"] for s in rest["servers"]] == ["p-c"] and "servers_links" not in rest
    # openstacksdk pages through the links itself.
    assert sorted(s.name for s in demo.compute.servers(limit=1)) == ["p-a", "p-b", "p-c"]
    delete(demo, *made)


def test_server_tags(demo: Connection) -> None:
    server = boot(demo, "tagged", tags=["red", "blue"])
    assert sorted(demo.compute.get_server(server.id).tags) == ["blue", "red"]
    base = f"/servers/{server.id}/tags"
    assert get(demo, base, "2.25").status_code == 404
    assert sorted(get(demo, base).json()["tags"]) == ["blue", "red"]
    assert demo.compute.put(f"{base}/green", microversion="2.26").status_code == 201
    assert demo.compute.put(f"{base}/green", microversion="2.26").status_code == 204
    assert get(demo, f"{base}/green").status_code == 204
    assert get(demo, f"{base}/white").status_code == 404
    assert names(get(demo, "/servers?tags=red,green")) == ["tagged"]
    assert names(get(demo, "/servers?tags=red,white")) == []
    assert names(get(demo, "/servers?tags-any=white,green")) == ["tagged"]
    assert names(get(demo, "/servers?not-tags=red,green")) == []
    assert names(get(demo, "/servers?not-tags-any=white")) == ["tagged"]
    replaced = demo.compute.put(base, json={"tags": ["one"]}, microversion="2.26")
    assert replaced.json() == {"tags": ["one"]}
    assert demo.compute.put(base, json={"tags": ["a/b"]}, microversion="2.26").status_code == 400
    too_many = demo.compute.put(base, json={"tags": [f"t{i}" for i in range(51)]}, microversion="2.26")
    assert too_many.status_code == 400
    assert demo.compute.delete(f"{base}/one", microversion="2.26").status_code == 204
    assert demo.compute.delete(f"{base}/one", microversion="2.26").status_code == 404
    demo.compute.put(f"{base}/x", microversion="2.26")
    assert demo.compute.delete(base, microversion="2.26").status_code == 204
    assert get(demo, base).json() == {"tags": []}
    delete(demo, server)
