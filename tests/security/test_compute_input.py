"""Compute input a member or an admin can send that was a 500 or slipped past Nova's validation
(issue #12, defects 11 and 14, the compute parts), through real HTTP.

500s: an SSH public key of a type the key library does not know; flavor sizes past the database's
integer range; ids such as "²" that `str.isdigit()` accepts and `int()` refuses (or digits past the
id column's range). Looser than Nova: server (and other compute) names kept control characters, and
accessIPv4/accessIPv6 took any string. Each table says what Nova accepts and what it refuses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, TINY

VERSION = "2.62"
HUGE = str(2**64)


def call(conn: Connection, method: str, path: str, version: str = VERSION, **kwargs: Any) -> Any:
    return conn.compute.request(path, method, raise_exc=False, microversion=version, **kwargs)


def refused(response: Any) -> None:
    assert response.status_code == 400, (response.status_code, response.text)
    assert response.json()["badRequest"]["code"] == 400


@pytest.fixture(scope="module")
def server(demo: Connection) -> Iterator[Any]:
    created = demo.compute.create_server(name="input-vm", image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    yield demo.compute.wait_for_server(created, status="ACTIVE", failures=["ERROR"], interval=0.1, wait=30)
    demo.compute.delete_server(created.id)


# --- defect 11: the 500s --------------------------------------------------------------------------------
@pytest.mark.parametrize("public_key", [
    "ssh-foo AAAAB3NzaC1yc2EAAAADAQABAAABAQ",  # a key type cryptography does not know
    "ecdsa-sha2-nistp999 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY=",
    "ssh-rsa AAAA",
    "not a key",
])  # fmt: skip
def test_an_invalid_public_key_is_a_400(demo: Connection, public_key: str) -> None:
    response = call(demo, "POST", "/os-keypairs", json={"keypair": {"name": "bad", "public_key": public_key}})
    refused(response)
    assert "Keypair data is invalid" in response.json()["badRequest"]["message"]


@pytest.mark.parametrize("field", ["ram", "vcpus", "disk", "swap", "OS-FLV-EXT-DATA:ephemeral"])
@pytest.mark.parametrize("value", [2**63, 2**64, 2**31])
def test_flavor_sizes_past_the_database_integer_are_a_400(admin: Connection, field: str, value: int) -> None:
    flavor = {"name": f"huge-{field}-{value}", "ram": 512, "vcpus": 1, "disk": 1, field: value}
    refused(call(admin, "POST", "/flavors", json={"flavor": flavor}))


def test_flavor_sizes_up_to_the_database_integer_are_accepted(admin: Connection) -> None:
    most = 2**31 - 1
    flavor = {"name": "largest", "ram": most, "vcpus": most, "disk": most, "swap": most}
    created = call(admin, "POST", "/flavors", json={"flavor": flavor})
    assert created.status_code == 200, created.text
    body = created.json()["flavor"]
    assert (body["ram"], body["vcpus"], body["disk"]) == (most, most, most)
    assert call(admin, "DELETE", f"/flavors/{body['id']}").status_code == 202


@pytest.mark.parametrize("query", [f"minRam={HUGE}", f"minDisk={HUGE}"])
def test_flavor_minimums_past_the_database_integer_list_nothing(demo: Connection, query: str) -> None:
    response = call(demo, "GET", f"/flavors?{query}")
    assert response.status_code == 200, response.text
    assert response.json()["flavors"] == []


@pytest.mark.parametrize("query", [f"power_state={HUGE}", f"progress=-{HUGE}", f"launch_index={HUGE}"])
def test_server_integer_filters_past_the_database_integer_list_nothing(admin: Connection, query: str) -> None:
    response = call(admin, "GET", f"/servers?all_tenants=1&{query}")
    assert response.status_code == 200, response.text
    assert response.json()["servers"] == []


# "²" passes str.isdigit() but not int(); 2**64 passes both but no integer column holds it.
@pytest.mark.parametrize("bad_id", ["²", "1²", HUGE])
@pytest.mark.parametrize(("method", "path", "version", "status", "body"), [
    ("GET", "/os-aggregates/{id}", VERSION, 404, None),
    ("PUT", "/os-aggregates/{id}", VERSION, 404, {"aggregate": {"name": "x"}}),
    ("DELETE", "/os-aggregates/{id}", VERSION, 404, None),
    ("POST", "/os-aggregates/{id}/action", VERSION, 404, {"add_host": {"host": "compute-1"}}),
    ("GET", "/os-hypervisors/{id}", "2.52", 404, None),
    ("GET", "/os-hypervisors/{id}/uptime", "2.52", 404, None),
    ("DELETE", "/os-services/{id}", "2.52", 400, None),
])  # fmt: skip
def test_ids_that_are_not_ascii_digits_or_too_big_are_a_4xx(
    admin: Connection, bad_id: str, method: str, path: str, version: str, status: int, body: Any
) -> None:
    response = call(admin, method, path.format(id=bad_id), version, json=body)
    assert response.status_code == status, (response.status_code, response.text)


@pytest.mark.parametrize("offset", ["²", "1²", "x"])
def test_a_server_group_offset_that_is_no_integer_is_a_400(demo: Connection, offset: str) -> None:
    refused(call(demo, "GET", f"/os-server-groups?offset={offset}"))


@pytest.mark.parametrize("bad_id", ["²", HUGE])
def test_a_server_migration_id_that_is_no_id_is_a_404(admin: Connection, server: Any, bad_id: str) -> None:
    response = call(admin, "GET", f"/servers/{server.id}/migrations/{bad_id}")
    assert response.status_code == 404, (response.status_code, response.text)


# --- defect 14: names and access addresses -------------------------------------------------------------
# Nova's parameter_types.name: 1-255 printable characters (no control, format or separator characters
# other than horizontal spaces; its pattern lists the Basic Multilingual Plane), no whitespace at the ends.
NAMES_NOVA_ACCEPTS = [
    "web-1", "web server 2", "ünïcødé", "名前", "a\u00a0b", "x" * 255, "emoji-free ☃", "tab-free_name.ok",
]  # fmt: skip
NAMES_NOVA_REFUSES = [
    "", " leading", "trailing ", "\u3000ideographic-space-lead", "nul\x00byte", "rtl\u202eevil",
    "line\nbreak", "carriage\rreturn", "tab\there", "line\u2028separator", "bell\x07", "zero\u200bwidth",
    "private\ue000use", "smile\U0001f600", "x" * 256,
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES_NOVA_ACCEPTS)
def test_server_names_nova_accepts_are_accepted(demo: Connection, server: Any, name: str) -> None:
    response = call(demo, "PUT", f"/servers/{server.id}", json={"server": {"name": name}})
    assert response.status_code == 200, response.text
    assert response.json()["server"]["name"] == name


@pytest.mark.parametrize("name", NAMES_NOVA_REFUSES)
def test_server_names_nova_refuses_are_a_400(demo: Connection, server: Any, name: str) -> None:
    refused(call(demo, "PUT", f"/servers/{server.id}", json={"server": {"name": name}}))
    create = {"name": name, "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none"}
    refused(call(demo, "POST", "/servers", json={"server": create}))
    refused(call(demo, "POST", f"/servers/{server.id}/action",
                 json={"rebuild": {"imageRef": IMAGE_ID, "name": name}}))  # fmt: skip


@pytest.mark.parametrize("name", ["rtl\u202eevil", "nul\x00byte", " leading"])
def test_other_compute_names_of_novas_name_type_refuse_them_too(
    demo: Connection, admin: Connection, server: Any, name: str
) -> None:
    refused(call(demo, "POST", f"/servers/{server.id}/action", json={"createImage": {"name": name}}))
    refused(call(demo, "POST", "/os-server-groups",
                 json={"server_group": {"name": name, "policies": ["affinity"]}}))  # fmt: skip
    refused(call(admin, "POST", "/flavors", json={"flavor": {"name": name, "ram": 1, "vcpus": 1, "disk": 0}}))
    if name.strip() == name:  # aggregate names are stripped first, as Nova's legacy v2 API did
        refused(call(admin, "POST", "/os-aggregates", json={"aggregate": {"name": name}}))
        zoned = {"aggregate": {"name": "zoned", "availability_zone": name}}
        refused(call(admin, "POST", "/os-aggregates", json=zoned))


ACCESS_IPS = [
    # (field, value, Nova accepts)
    ("accessIPv4", "192.0.2.10", True),
    ("accessIPv4", "0.0.0.0", True),
    ("accessIPv4", "", False),
    ("accessIPv4", "192.0.2", False),
    ("accessIPv4", "256.0.0.1", False),
    ("accessIPv4", "192.0.2.10/24", False),
    ("accessIPv4", "2001:db8::1", False),
    ("accessIPv4", "example.com", False),
    ("accessIPv4", "192.0.2.1\n", False),
    ("accessIPv6", "2001:db8::1", True),
    ("accessIPv6", "::ffff:192.0.2.1", True),
    ("accessIPv6", "::", True),
    ("accessIPv6", "", False),
    ("accessIPv6", "192.0.2.10", False),
    ("accessIPv6", "2001:db8::g", False),
    ("accessIPv6", "fe80::1%eth0", False),
    ("accessIPv6", "2001:db8:::1", False),
]


@pytest.mark.parametrize(("field", "value", "accepted"), ACCESS_IPS)
def test_access_ips_are_novas_formats(
    demo: Connection, server: Any, field: str, value: str, accepted: bool
) -> None:
    updated = call(demo, "PUT", f"/servers/{server.id}", json={"server": {field: value}})
    rebuilt_body = {"rebuild": {"imageRef": IMAGE_ID, field: value}}
    if accepted:
        assert updated.status_code == 200, updated.text
        assert updated.json()["server"][field] == value
        return
    refused(updated)
    create = {"name": "ip", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none", field: value}
    refused(call(demo, "POST", "/servers", json={"server": create}))
    refused(call(demo, "POST", f"/servers/{server.id}/action", json=rebuilt_body))


def test_a_valid_access_ip_at_create_is_kept(demo: Connection) -> None:
    create = {"name": "ip-ok", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none",
              "accessIPv4": "192.0.2.7", "accessIPv6": "2001:db8::7"}  # fmt: skip
    response = call(demo, "POST", "/servers", json={"server": create})
    assert response.status_code == 202, response.text
    server_id = response.json()["server"]["id"]
    shown = call(demo, "GET", f"/servers/{server_id}").json()["server"]
    assert (shown["accessIPv4"], shown["accessIPv6"]) == ("192.0.2.7", "2001:db8::7")
    # Fetched before the delete: a fast delete leaves nothing to fetch afterwards.
    server = demo.compute.get_server(server_id)
    demo.compute.delete_server(server)
    demo.compute.wait_for_delete(server, interval=0.1, wait=30)
