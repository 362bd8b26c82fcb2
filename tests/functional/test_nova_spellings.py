"""Nova-style requests spelling values the way Nova's schemas allow (booleans as words, numbers as
strings, flavor ids as numbers, bodiless actions as {} or null) succeed through real HTTP, and a spelling
Nova refuses gets Nova's 400 body."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from openstack.connection import Connection

from tests.support.cloud import IMAGE_ID, TINY
from tests.support.compute_api import compute, settled

COMPUTE = "nova-compute"


def assert_nova_400(response: Any, *fragments: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert set(body) == {"badRequest"} and body["badRequest"]["code"] == 400
    for fragment in fragments:
        assert fragment in body["badRequest"]["message"]


def create_flavor(admin: Connection, microversion: str = "2.1", **fields: Any) -> Any:
    body = {"flavor": {"name": f"spelled-{uuid.uuid4().hex[:8]}", "ram": 64, "vcpus": 1, "disk": 0, **fields}}
    return compute(admin, "POST", "/flavors", json=body, microversion=microversion)


def boot(demo: Connection, microversion: str = "2.1", **fields: Any) -> Any:
    body = {"server": {"name": "spelled", "imageRef": IMAGE_ID, "flavorRef": TINY, **fields}}
    return compute(demo, "POST", "/servers", json=body, microversion=microversion)


# --- flavors: numbers as strings, ids as numbers or null, booleans as words --------------------------------
def test_flavor_sizes_and_factor_given_as_strings(admin: Connection) -> None:
    created = create_flavor(
        admin, id=4242, ram="1024", vcpus="2", disk="10", swap="512", rxtx_factor="1.5",
        **{"OS-FLV-EXT-DATA:ephemeral": "5", "os-flavor-access:is_public": "True"},
    )  # fmt: skip
    assert created.status_code == 200, created.text
    flavor = created.json()["flavor"]
    assert (flavor["id"], flavor["ram"], flavor["vcpus"], flavor["disk"]) == ("4242", 1024, 2, 10)
    assert (flavor["swap"], flavor["rxtx_factor"], flavor["OS-FLV-EXT-DATA:ephemeral"]) == (512, 1.5, 5)
    assert flavor["os-flavor-access:is_public"] is True
    assert compute(admin, "GET", "/flavors/4242").json()["flavor"]["ram"] == 1024


@pytest.mark.parametrize(("spelled", "public"), [("yes", True), ("On", True), ("0", False), ("FALSE", False)])
def test_flavor_is_public_words(admin: Connection, spelled: str, public: bool) -> None:
    created = create_flavor(admin, **{"os-flavor-access:is_public": spelled})
    assert created.status_code == 200, created.text
    assert created.json()["flavor"]["os-flavor-access:is_public"] is public


def test_flavor_id_null_is_generated_and_a_string_id_is_kept(admin: Connection) -> None:
    generated = create_flavor(admin, id=None)
    assert generated.status_code == 200, generated.text
    assert uuid.UUID(generated.json()["flavor"]["id"])
    named = create_flavor(admin, id="m1.spelled")
    assert named.json()["flavor"]["id"] == "m1.spelled"


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"ram": "0"}, "0 is less than the minimum of 1"),
        ({"ram": "1024MB"}, "does not match"),
        ({"ram": 1024.0}, "is not of type 'integer', 'string'"),
        ({"vcpus": True}, "is not of type 'integer', 'string'"),
        ({"os-flavor-access:is_public": "t"}, "'t' is not one of [True, 'True'"),
        ({"id": " padded"}, "does not match"),
        ({"rxtx_factor": "0"}, "less than or equal to the minimum of 0"),
    ],
)
def test_flavor_spellings_nova_refuses(admin: Connection, fields: dict[str, Any], fragment: str) -> None:
    assert_nova_400(create_flavor(admin, **fields), fragment)


# --- servers ------------------------------------------------------------------------------------------------
def test_server_create_spellings(demo: Connection) -> None:
    created = boot(
        demo, flavorRef=int(TINY), min_count="1", max_count="1", config_drive="yes",
        return_reservation_id="False", accessIPv4="192.0.2.7",
        accessIPv6="2001:0DB8:0000:0000:0000:0000:0000:0007", metadata={"role": "web"},
    )  # fmt: skip
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]
    server = compute(demo, "GET", f"/servers/{server_id}").json()["server"]
    assert server["accessIPv6"] == "2001:db8::7"
    assert server["accessIPv4"] == "192.0.2.7"
    assert server["config_drive"] in (True, "True")
    assert server["metadata"] == {"role": "web"}
    updated = compute(
        demo, "PUT", f"/servers/{server_id}", json={"server": {"accessIPv6": "2001:DB8:0:0:1::"}}
    )
    assert updated.json()["server"]["accessIPv6"] == "2001:db8:0:0:1::"
    reserved = boot(demo, return_reservation_id="1")
    assert reserved.status_code == 202 and "reservation_id" in reserved.json()


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"config_drive": "t"}, "is not one of"),
        ({"min_count": "0"}, "less than the minimum of 1"),
        ({"min_count": 1.0}, "is not of type 'integer', 'string'"),
        ({"accessIPv6": "fe80::1%eth0"}, "is not a 'ipv6'"),
        ({"metadata": {"key/slash": "v"}}, "was unexpected"),
        ({"metadata": {"k": 1}}, "is not of type 'string'"),
        ({"flavorRef": ""}, "is too short"),
        ({"name": " padded"}, "Can not start or end with whitespace"),
        ({"colour": "blue"}, "Additional properties are not allowed ('colour' was unexpected)"),
    ],
)
def test_server_create_spellings_nova_refuses(
    demo: Connection, fields: dict[str, Any], fragment: str
) -> None:
    assert_nova_400(boot(demo, **fields), fragment)


# --- bodiless actions: {} and null both work where Nova's schema is {} -------------------------------------
def action(conn: Connection, server_id: str, body: dict[str, Any], microversion: str = "2.1") -> Any:
    return compute(conn, "POST", f"/servers/{server_id}/action", json=body, microversion=microversion)


def test_actions_take_an_empty_object_or_null(demo: Connection, admin: Connection) -> None:
    created = boot(demo)
    assert created.status_code == 202, created.text
    server_id = created.json()["server"]["id"]
    settled(demo, server_id, "ACTIVE")
    for body, status in (
        ({"os-stop": {}}, "SHUTOFF"), ({"os-start": None}, "ACTIVE"),
        ({"os-stop": None}, "SHUTOFF"), ({"os-start": {}}, "ACTIVE"),
        ({"pause": {}}, "PAUSED"), ({"unpause": None}, "ACTIVE"),
        ({"suspend": None}, "SUSPENDED"), ({"resume": {}}, "ACTIVE"),
    ):  # fmt: skip
        answered = action(demo, server_id, body)
        assert answered.status_code == 202, (body, answered.text)
        settled(demo, server_id, status)
    assert action(demo, server_id, {"lock": {}}).status_code == 202
    assert (
        compute(demo, "GET", f"/servers/{server_id}", microversion="2.9").json()["server"]["locked"] is True
    )
    assert action(demo, server_id, {"unlock": None}).status_code == 202
    # Before 2.56 Nova reads nothing from migrate's value, so {} (what clients send) is a cold migration.
    migrated = action(admin, server_id, {"migrate": {}})
    assert migrated.status_code == 202, migrated.text
    settled(demo, server_id, "VERIFY_RESIZE")
    assert action(demo, server_id, {"confirmResize": {}}).status_code in (202, 204)
    settled(demo, server_id, "ACTIVE")
    console = action(demo, server_id, {"os-getConsoleOutput": {"length": "5"}})
    assert console.status_code == 200, console.text
    assert_nova_400(action(demo, server_id, {"os-getConsoleOutput": {"length": "-2"}}), "minimum of -1")
    assert_nova_400(
        action(admin, server_id, {"migrate": {"hots": "compute-2"}}, "2.56"), "'hots' was unexpected"
    )


def test_rebuild_preserve_ephemeral_as_a_word(demo: Connection) -> None:
    created = boot(demo)
    server_id = created.json()["server"]["id"]
    settled(demo, server_id, "ACTIVE")
    rebuilt = action(demo, server_id, {"rebuild": {"imageRef": IMAGE_ID, "preserve_ephemeral": "false"}})
    assert rebuilt.status_code == 202, rebuilt.text
    settled(demo, server_id, "ACTIVE")
    assert_nova_400(
        action(demo, server_id, {"rebuild": {"imageRef": IMAGE_ID, "preserve_ephemeral": "nope"}}),
        "rebuild.preserve_ephemeral", "is not one of",
    )  # fmt: skip


# --- admin APIs read by hand: the same shared types --------------------------------------------------------
def test_quota_limits_as_strings_and_force_as_a_word(admin: Connection, demo: Connection) -> None:
    path = f"/os-quota-sets/{demo.current_project_id}"
    updated = compute(admin, "PUT", path, json={"quota_set": {"cores": "40", "force": "True"}})
    assert updated.status_code == 200, updated.text
    assert updated.json()["quota_set"]["cores"] == 40
    assert_nova_400(compute(admin, "PUT", path, json={"quota_set": {"cores": "-2"}}), "minimum of -1")
    assert_nova_400(compute(admin, "PUT", path, json={"quota_set": {"force": "y"}}), "is not one of")


def test_service_forced_down_as_a_word(admin: Connection) -> None:
    service = next(s for s in admin.compute.services() if s.binary == COMPUTE and s.host == "compute-2")
    path = f"/os-services/{service.id}"
    try:
        down = compute(admin, "PUT", path, json={"forced_down": "yes"}, microversion="2.53")
        assert down.status_code == 200, down.text
        assert down.json()["service"]["forced_down"] is True
        assert_nova_400(
            compute(admin, "PUT", path, json={"forced_down": "t"}, microversion="2.53"),
            "forced_down",
            "not one of",
        )
    finally:
        up = compute(admin, "PUT", path, json={"forced_down": "Off"}, microversion="2.53")
    assert up.status_code == 200 and up.json()["service"]["forced_down"] is False
    bad_host = {"host": "bad$host", "binary": COMPUTE}
    assert_nova_400(compute(admin, "PUT", "/os-services/disable", json=bad_host), "host", "does not match")


def test_aggregate_names_zones_hosts_and_metadata(admin: Connection) -> None:
    def aggregates(method: str, path: str, body: dict[str, Any]) -> Any:
        return compute(admin, method, f"/os-aggregates{path}", json=body)

    # A new aggregate's name is Nova's name (no spaces at its ends); a rename may have them, stripped.
    assert_nova_400(aggregates("POST", "", {"aggregate": {"name": "  rack-7  "}}), "Can not start or end")
    assert_nova_400(
        aggregates("POST", "", {"aggregate": {"name": "r", "availability_zone": "a:b"}}), "except :"
    )
    created = aggregates("POST", "", {"aggregate": {"name": "rack-7", "availability_zone": None}})
    assert created.status_code == 200, created.text
    rack = created.json()["aggregate"]["id"]
    renamed = aggregates("PUT", f"/{rack}", {"aggregate": {"name": "  rack-8  ", "availability_zone": "az8"}})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["aggregate"]["name"], renamed.json()["aggregate"]["availability_zone"]) == (
        "rack-8",
        "az8",
    )
    assert_nova_400(aggregates("PUT", f"/{rack}", {"aggregate": {"name": "   "}}), "at least one non space")
    tagged = aggregates(
        "POST", f"/{rack}/action", {"set_metadata": {"metadata": {"ssd": "true", "gone": None}}}
    )
    assert tagged.status_code == 200, tagged.text
    # (Nova keeps the zone among the metadata too)
    assert tagged.json()["aggregate"]["metadata"] == {"ssd": "true", "availability_zone": "az8"}
    assert_nova_400(
        aggregates("POST", f"/{rack}/action", {"set_metadata": {"metadata": {"a/b": "v"}}}), "was unexpected"
    )
    assert_nova_400(
        aggregates("POST", f"/{rack}/action", {"add_host": {"host": "bad$host"}}), "does not match"
    )
    assert aggregates("DELETE", f"/{rack}", {}).status_code == 200


def test_server_metadata_items_in_novas_types(demo: Connection) -> None:
    created = boot(demo)
    server_id = created.json()["server"]["id"]
    settled(demo, server_id, "ACTIVE")
    path = f"/servers/{server_id}/metadata"
    merged = compute(demo, "POST", path, json={"metadata": {"a.b c:d": "v"}})
    assert merged.status_code == 200, merged.text
    assert merged.json()["metadata"]["a.b c:d"] == "v"
    assert_nova_400(compute(demo, "POST", path, json={"metadata": {"k": 7}}), "is not of type 'string'")
    assert_nova_400(compute(demo, "PUT", f"{path}/k", json={"meta": {"k": "v" * 256}}), "is too long")


# --- per-version additionalProperties ---------------------------------------------------------------------
def test_a_key_is_refused_before_the_microversion_that_adds_it_and_taken_from_it(
    demo: Connection, admin: Connection
) -> None:
    assert_nova_400(
        boot(demo, "2.18", description="d"), "Additional properties are not allowed ('description'"
    )
    assert boot(demo, "2.19", description="d").status_code == 202
    assert_nova_400(create_flavor(admin, "2.54", description="d"), "('description' was unexpected)")
    assert create_flavor(admin, "2.55", description="d").status_code == 200
    assert_nova_400(
        boot(demo, "2.37", description="d", networks="none", colour="x"), "('colour' was unexpected)"
    )
