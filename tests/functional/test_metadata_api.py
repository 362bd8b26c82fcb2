"""The metadata API of a whole in-process cloud: servers booted through the openstack CLI and
openstacksdk with a key pair and user data, read through real HTTP as a metadata proxy asks (signed
instance id), and every request the proxy would never sign refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from overcast.metadata.documents import EC2_VERSIONS, OPENSTACK_VERSIONS
from overcast.metadata.signing import shared_secret, signed_headers
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud, project_token
from tests.support.compute_api import compute, settled
from tests.support.waiting import WAIT_SECONDS

USER_DATA = b"#!/bin/sh\necho hello from user-data\n"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHk1Rh0y9dmVc2HXHqDbX3A5mXRrSdd3xJZOhM0bNtNM demo@laptop"


@pytest.fixture(scope="module")
def server(
    cloud: InProcessCloud, demo: Connection, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """vm1, booted by the openstack CLI with a key pair, user data and a property; no network (user mode)."""
    cloud.openstack(
        "keypair", "create", "--public-key", str(_key_file(tmp_path_factory.mktemp("key"))), "mine"
    )
    user_data = tmp_path_factory.mktemp("user-data") / "script.sh"
    user_data.write_bytes(USER_DATA)
    created = cloud.openstack(
        "server", "create", "--image", IMAGE_ID, "--flavor", TINY, "--key-name", "mine", "--user-data",
        str(user_data), "--property", "role=web", "--nic", "none", "vm1", "-f", "json",
    )  # fmt: skip
    settled(demo, created["id"], "ACTIVE")
    return dict(demo.compute.get_server(created["id"]).to_dict())


@pytest.fixture(scope="module")
def bare(demo: Connection) -> Iterator[dict[str, Any]]:
    """vm2, booted by openstacksdk without key or user data, and given a port the network service made."""
    created = demo.compute.create_server(name="vm2", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    settled(demo, created.id, "ACTIVE")
    yield dict(demo.compute.get_server(created.id).to_dict())


def _key_file(folder: Path) -> Path:
    path = folder / "id.pub"
    path.write_text(KEY + "\n")
    return path


def read(cloud: InProcessCloud, path: str, headers: dict[str, str] | None) -> httpx.Response:
    return httpx.get(f"{cloud.base_url}/metadata/{path.lstrip('/')}", headers=headers, timeout=30)


def signed(cloud: InProcessCloud, server: dict[str, Any]) -> dict[str, str]:
    """What the proxy sends for a request from this server's address."""
    return signed_headers(shared_secret(cloud.settings), server["id"], server["project_id"])


def text(cloud: InProcessCloud, server: dict[str, Any], path: str) -> str:
    answer = read(cloud, path, signed(cloud, server))
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return answer.text


def document(cloud: InProcessCloud, server: dict[str, Any], path: str) -> Any:
    answer = read(cloud, path, signed(cloud, server))
    assert answer.status_code == 200, (path, answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/json"
    return json.loads(answer.content)


def test_openstack_tree(cloud: InProcessCloud, server: dict[str, Any], demo: Connection) -> None:
    assert text(cloud, server, "openstack").split("\n") == [*OPENSTACK_VERSIONS, "latest"]
    assert text(cloud, server, "openstack/latest/").split("\n") == [
        "meta_data.json", "user_data", "password", "vendor_data.json", "network_data.json",
        "vendor_data2.json",
    ]  # fmt: skip
    meta = document(cloud, server, "openstack/latest/meta_data.json")
    assert meta["uuid"] == server["id"] and meta["name"] == "vm1" and meta["hostname"] == "vm1"
    assert meta["project_id"] == server["project_id"]
    assert (meta["availability_zone"], meta["launch_index"], meta["devices"]) == ("nova", 0, [])
    # The key as the key pair holds it (the CLI sent the file, its newline included).
    stored = demo.compute.get_keypair("mine").public_key
    assert stored.strip() == KEY
    assert meta["public_keys"] == {"mine": stored}
    assert meta["keys"] == [{"name": "mine", "type": "ssh", "data": stored}]
    assert meta["meta"] == {"role": "web"}
    assert len(base64.b64decode(meta["random_seed"])) == 512
    user_data = read(cloud, "openstack/latest/user_data", signed(cloud, server))
    assert user_data.content == USER_DATA
    assert document(cloud, server, "openstack/latest/vendor_data.json") == {}
    assert document(cloud, server, "openstack/latest/vendor_data2.json") == {}
    # No port: the guest is on QEMU user-mode networking, which network_data.json does not describe.
    empty: dict[str, list[Any]] = {"links": [], "networks": [], "services": []}
    assert document(cloud, server, "openstack/latest/network_data.json") == empty
    for version in OPENSTACK_VERSIONS:
        assert document(cloud, server, f"openstack/{version}/meta_data.json")["uuid"] == server["id"]
    assert "project_id" not in document(cloud, server, "openstack/2012-08-10/meta_data.json")


def test_ec2_tree(cloud: InProcessCloud, server: dict[str, Any], demo: Connection) -> None:
    assert text(cloud, server, "").split("\n") == [*EC2_VERSIONS, "latest"]
    assert text(cloud, server, "latest").split("\n") == ["meta-data/", "user-data"]
    assert read(cloud, "latest/user-data", signed(cloud, server)).content == USER_DATA
    listing = text(cloud, server, "latest/meta-data/").split("\n")
    for entry in ("ami-id", "instance-id", "instance-type", "local-ipv4", "public-ipv4", "hostname",
                  "local-hostname", "public-keys/", "placement/", "reservation-id", "security-groups",
                  "block-device-mapping/"):  # fmt: skip
        assert entry in listing
    instance_id = text(cloud, server, "latest/meta-data/instance-id")
    assert instance_id.startswith("i-") and len(instance_id) == 19
    assert instance_id == text(cloud, server, "2009-04-04/meta-data/instance-id")  # stable
    assert text(cloud, server, "latest/meta-data/ami-id").startswith("ami-")
    assert text(cloud, server, "latest/meta-data/instance-type") == "m1.tiny"
    assert text(cloud, server, "latest/meta-data/hostname") == "vm1"
    assert text(cloud, server, "latest/meta-data/local-hostname") == "vm1"
    assert text(cloud, server, "latest/meta-data/placement/availability-zone") == "nova"
    assert text(cloud, server, "latest/meta-data/reservation-id").startswith("r-")
    assert text(cloud, server, "latest/meta-data/security-groups") == "default"
    assert text(cloud, server, "latest/meta-data/public-keys/") == "0=mine"
    assert text(cloud, server, "latest/meta-data/public-keys/0/") == "openssh-key"
    assert text(cloud, server, "latest/meta-data/public-keys/0/openssh-key").strip() == KEY
    assert text(cloud, server, "latest/meta-data/block-device-mapping/root") == "/dev/vda"
    # The fake driver reports the user-mode guest address, as the QEMU driver does; no floating IP.
    assert text(cloud, server, "latest/meta-data/local-ipv4") == "10.0.2.15"
    assert text(cloud, server, "latest/meta-data/public-ipv4") == ""


def test_a_port_shows_in_network_data_and_local_ipv4(
    cloud: InProcessCloud, bare: dict[str, Any], admin: Connection
) -> None:
    network = admin.network.create_network(name="metadata-net", project_id=bare["project_id"])
    subnet = admin.network.create_subnet(network_id=network.id, ip_version=4, cidr="10.20.0.0/24",
                                          project_id=bare["project_id"], enable_dhcp=False,
                                          dns_nameservers=["192.0.2.53"])  # fmt: skip
    port = admin.network.create_port(
        network_id=network.id, project_id=bare["project_id"], device_id=bare["id"],
        device_owner="compute:nova", fixed_ips=[{"subnet_id": subnet.id, "ip_address": "10.20.0.10"}],
    )  # fmt: skip
    data = document(cloud, bare, "openstack/latest/network_data.json")
    assert [link["vif_id"] for link in data["links"]] == [port.id]
    assert data["links"][0]["ethernet_mac_address"] == port.mac_address
    assert data["links"][0]["mtu"] == network.mtu
    (static,) = data["networks"]
    assert (static["type"], static["ip_address"], static["netmask"]) == (
        "ipv4",
        "10.20.0.10",
        "255.255.255.0",
    )
    assert static["routes"] == [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.20.0.1"}]
    assert data["services"] == [{"type": "dns", "address": "192.0.2.53"}]
    assert text(cloud, bare, "latest/meta-data/local-ipv4") == "10.20.0.10"


def test_absent_things_are_404s(cloud: InProcessCloud, bare: dict[str, Any]) -> None:
    for path in ("openstack/latest/user_data", "latest/user-data", "latest/meta-data/public-keys/",
                 "openstack/2011-11-11/meta_data.json", "openstack/latest/nothing",
                 "latest/meta-data/nothing", "nothing/meta-data"):  # fmt: skip
        answer = read(cloud, path, signed(cloud, bare))
        assert answer.status_code == 404, path
        assert answer.headers["content-type"].startswith("text/plain")
    assert "user_data" not in text(cloud, bare, "openstack/latest").split("\n")
    assert "public-keys/" not in text(cloud, bare, "latest/meta-data").split("\n")


def test_only_what_a_proxy_signed_is_answered(
    cloud: InProcessCloud, server: dict[str, Any], bare: dict[str, Any], admin: Connection
) -> None:
    path = "openstack/latest/meta_data.json"
    # No headers, or any one missing: 400, even with a valid Keystone token (a token is no proxy).
    assert read(cloud, path, None).status_code == 400
    assert read(cloud, path, {"X-Auth-Token": project_token(cloud, "demo")}).status_code == 400
    for missing in ("X-Instance-ID", "X-Tenant-ID", "X-Instance-ID-Signature"):
        partial = {name: value for name, value in signed(cloud, server).items() if name != missing}
        answer = read(cloud, path, partial)
        assert answer.status_code == 400 and missing in answer.text
    # A signature made with another secret, or one instance's signature sent for another: 403.
    forged = signed_headers("not-the-secret", server["id"], server["project_id"])
    assert read(cloud, path, forged).status_code == 403
    swapped = {**signed(cloud, server), "X-Instance-ID": bare["id"]}
    assert read(cloud, path, swapped).status_code == 403
    # Signed, but naming another tenant, or an instance that does not exist: 404, and no data.
    other_tenant = signed_headers(shared_secret(cloud.settings), server["id"], str(admin.current_project_id))
    answer = read(cloud, path, other_tenant)
    assert answer.status_code == 404 and server["id"] not in answer.text
    nobody = signed_headers(shared_secret(cloud.settings), "7b0f1c2e-0000-4000-8000-000000000000", "x")
    assert read(cloud, path, nobody).status_code == 404


def test_a_deleted_server_has_no_metadata(cloud: InProcessCloud, demo: Connection) -> None:
    created = demo.compute.create_server(name="gone", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    gone = dict(settled(demo, created.id, "ACTIVE").to_dict())
    headers = signed(cloud, gone)
    assert read(cloud, "openstack/latest/meta_data.json", headers).status_code == 200
    demo.compute.delete_server(created.id)
    demo.compute.wait_for_delete(created, wait=60)
    assert read(cloud, "openstack/latest/meta_data.json", headers).status_code == 404


def test_the_guest_posts_its_password_once_and_the_owner_reads_it(
    cloud: InProcessCloud, server: dict[str, Any], demo: Connection
) -> None:
    path = "openstack/latest/password"
    headers = signed(cloud, server)
    assert "password" in text(cloud, server, "openstack/latest").split("\n")
    assert text(cloud, server, path) == ""
    assert (
        httpx.post(
            f"{cloud.base_url}/metadata/{path}", content=b"x" * 257, headers=headers, timeout=WAIT_SECONDS
        ).status_code
        == 400
    )
    posted = httpx.post(
        f"{cloud.base_url}/metadata/{path}", content=b"ZW5jcnlwdGVk", headers=headers, timeout=WAIT_SECONDS
    )
    assert posted.status_code == 200
    assert text(cloud, server, path) == "ZW5jcnlwdGVk"
    again = httpx.post(
        f"{cloud.base_url}/metadata/{path}", content=b"b3RoZXI=", headers=headers, timeout=WAIT_SECONDS
    )
    assert again.status_code == 409
    shown = compute(demo, "GET", f"/servers/{server['id']}/os-server-password")
    assert shown.json() == {"password": "ZW5jcnlwdGVk"}
    # Cleared by its owner, the guest may post a new one.
    assert compute(demo, "DELETE", f"/servers/{server['id']}/os-server-password").status_code == 204
    assert (
        httpx.post(
            f"{cloud.base_url}/metadata/{path}", content=b"b3RoZXI=", headers=headers, timeout=WAIT_SECONDS
        ).status_code
        == 200
    )
    assert text(cloud, server, path) == "b3RoZXI="
    # Posts go nowhere else, and are signed like reads.
    other = httpx.post(
        f"{cloud.base_url}/metadata/openstack/latest/meta_data.json",
        content=b"x",
        headers=headers,
        timeout=WAIT_SECONDS,
    )
    assert other.status_code == 405
    assert (
        httpx.post(f"{cloud.base_url}/metadata/{path}", content=b"x", timeout=WAIT_SECONDS).status_code == 400
    )


def test_head_answers_like_get_without_a_body(cloud: InProcessCloud, server: dict[str, Any]) -> None:
    answer = httpx.head(
        f"{cloud.base_url}/metadata/openstack/latest/meta_data.json",
        headers=signed(cloud, server),
        timeout=WAIT_SECONDS,
    )
    assert answer.status_code == 200 and answer.content == b""
    assert answer.headers["content-type"] == "application/json"
