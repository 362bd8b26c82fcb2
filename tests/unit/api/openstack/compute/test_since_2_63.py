"""Request types and view fields of compute microversions 2.63-2.100: hostnames (2.90, FQDNs from 2.94),
trusted image certificates (2.63), server group policy and rules (2.64), and which server body fields
each version shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from overcast import errors
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.compute.schemas import ServerCreateFields, check_hostname
from overcast.api.openstack.compute.server_groups import ServerGroupFields
from overcast.api.openstack.compute.views import Audience, Links, ServerView, api_time, naive_iso
from overcast.compute.api.server_queries import Server
from overcast.config import load_settings
from overcast.db.models.compute import Instance

BASE: dict[str, Any] = {"name": "web", "flavorRef": "1"}


@pytest.mark.parametrize("hostname", ["web", "web-1", "a1", "w" * 63, "web.example.org", "web.example.org."])
def test_hostnames_nova_accepts(hostname: str) -> None:
    assert ServerCreateFields.model_validate({**BASE, "hostname": hostname}).hostname == hostname


@pytest.mark.parametrize("hostname", ["", "-web", "web-", "we b", "web_1", "a..b", "w" * 64 + ".org"])
def test_hostnames_nova_refuses(hostname: str) -> None:
    with pytest.raises(ValidationError):
        ServerCreateFields.model_validate({**BASE, "hostname": hostname})


def test_fqdns_only_from_2_94() -> None:
    check_hostname("web.example.org", APIVersion(2, 94))
    check_hostname("web", APIVersion(2, 90))
    with pytest.raises(errors.BadRequest):
        check_hostname("web.example.org", APIVersion(2, 93))


@pytest.mark.parametrize("certs", [["a"], ["a", "b"], [f"c{i}" for i in range(50)], None])
def test_trusted_certificates_nova_accepts(certs: list[str] | None) -> None:
    fields = ServerCreateFields.model_validate({**BASE, "trusted_image_certificates": certs})
    assert fields.trusted_image_certificates == certs


@pytest.mark.parametrize("certs", [[], ["a", "a"], [""], [f"c{i}" for i in range(51)], "a", [1]])
def test_trusted_certificates_nova_refuses(certs: Any) -> None:
    with pytest.raises(ValidationError):
        ServerCreateFields.model_validate({**BASE, "trusted_image_certificates": certs})


def test_server_group_policy_from_2_64_and_policies_before() -> None:
    modern = ServerGroupFields.model_validate(
        {"name": "g", "policy": "anti-affinity", "rules": {"max_server_per_host": "3"}}
    )
    assert modern.chosen(APIVersion(2, 64)) == (["anti-affinity"], {"max_server_per_host": 3})
    with pytest.raises(errors.BadRequest):
        modern.chosen(APIVersion(2, 63))
    old = ServerGroupFields.model_validate({"name": "g", "policies": ["affinity"]})
    assert old.chosen(APIVersion(2, 63)) == (["affinity"], {})
    with pytest.raises(errors.BadRequest):
        old.chosen(APIVersion(2, 64))
    for bad in ({"max_server_per_host": 0}, {"max_server_per_host": "x"}, {"other": 1}):
        with pytest.raises(ValidationError):
            ServerGroupFields.model_validate({"name": "g", "policy": "anti-affinity", "rules": bad})


def _server(**extra: Any) -> Server:
    moment = datetime(2026, 12, 5, 21, 0, 1, 123456, tzinfo=UTC)
    instance = Instance(
        id=7, uuid="4f7c1c6e-0000-4000-8000-000000000007", display_name="web", hostname="web.example.org",
        project_id="p1", user_id="u1", image_ref="img", flavor_id="1", vcpus=1, memory_mb=512, root_gb=1,
        ephemeral_gb=0, vm_state="active", task_state=None, power_state=1, host="h1", node="h1",
        availability_zone="zone-a", key_name=None, user_data=None, metadata_items={},
        security_groups=["default"],
        disk_config="MANUAL", config_drive=False, access_ip_v4=None, access_ip_v6=None, progress=0,
        description=None, kernel_id="", ramdisk_id="", reservation_id="r-1", launch_index=0,
        launched_at=moment, terminated_at=None, created_at=moment, updated_at=moment,
    )  # fmt: skip
    return Server(instance, **extra)


def test_each_version_shows_its_fields() -> None:
    view = ServerView(Links(load_settings(data_dir="/nonexistent", listen="127.0.0.1:1")))
    server = _server(
        locked=True, locked_reason="maintenance", server_groups=("g1",), scheduler_hints={"group": "g1"},
        trusted_certs=["c1"], image_properties={"os_distro": "debian"},
    )  # fmt: skip

    def body(minor: int, form: Any = "show") -> dict[str, Any]:
        return view.detail(server, APIVersion(2, minor), Audience(), form)

    assert "trusted_image_certificates" not in body(62) and body(63)["trusted_image_certificates"] == ["c1"]
    assert "server_groups" not in body(70) and body(71)["server_groups"] == ["g1"]
    assert "server_groups" not in body(100, "list")  # never in the detail list
    assert "locked_reason" not in body(72) and body(73)["locked_reason"] == "maintenance"
    assert (
        "OS-EXT-SRV-ATTR:hostname" not in body(89)
        and body(90)["OS-EXT-SRV-ATTR:hostname"] == "web.example.org"
    )
    assert "pinned_availability_zone" not in body(95) and body(96)["pinned_availability_zone"] == "zone-a"
    assert "properties" not in body(97)["image"] and body(98)["image"]["properties"] == {
        "os_distro": "debian"
    }
    assert "scheduler_hints" not in body(99) and body(100)["scheduler_hints"] == {"group": ["g1"]}
    # 2.75: update and rebuild answer the full body.
    assert "OS-EXT-STS:vm_state" not in body(74, "update") and "OS-EXT-STS:vm_state" in body(75, "update")


def test_times_are_rendered_as_nova_does() -> None:
    moment = datetime(2026, 12, 5, 21, 0, 1, 123456, tzinfo=UTC)
    assert api_time(moment) == "2026-12-05T21:00:01Z"
    assert naive_iso(moment) == "2026-12-05T21:00:01.123456"
    assert api_time(None) is None and naive_iso(None) is None
    # Whole seconds have no fraction (as isoformat), a few microseconds keep their six digits, and another
    # zone is shown in UTC.
    assert naive_iso(moment.replace(microsecond=0)) == "2026-12-05T21:00:01"
    assert naive_iso(moment.replace(microsecond=5)) == "2026-12-05T21:00:01.000005"
    tokyo = moment.astimezone(timezone(timedelta(hours=9)))
    assert (api_time(tokyo), naive_iso(tokyo)) == ("2026-12-05T21:00:01Z", "2026-12-05T21:00:01.123456")
