"""The compute request models: Nova's per-version additionalProperties (a key the requested microversion
does not know is refused, the same key is taken from the version that adds it) and unknown keys at every
version, in Nova's words."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from overcast import errors
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.compute.schemas import (
    FlavorCreateBody,
    ServerCreateBody,
    ServerUpdateBody,
    refuse_out_of_version,
)
from overcast.api.openstack.parameter_types import reason

IMAGE = "a5e1f3c2-8d4b-4c6e-9f70-3b2d1e0c9a81"


def before(version: APIVersion) -> APIVersion:
    return APIVersion(version.major, version.minor - 1)


def server(version: APIVersion, **fields: Any) -> ServerCreateBody:
    # From 2.37 a create names its networks; "none" is the shortest way.
    networks = {"networks": "none"} if version >= v.NETWORKS_REQUIRED else {}
    return ServerCreateBody.model_validate(
        {"server": {"name": "s", "imageRef": IMAGE, "flavorRef": "1", **networks, **fields}}
    )


@pytest.mark.parametrize(
    ("field", "value", "since"),
    [("description", "a server", v.DESCRIPTION), ("tags", ["red"], v.TAGS_AT_CREATE)],
)
def test_create_fields_exist_from_the_version_that_adds_them(
    field: str, value: Any, since: APIVersion
) -> None:
    body = server(since, **{field: value})
    body.check_version(since)
    with pytest.raises(errors.BadRequest) as caught:
        body.check_version(before(since))
    assert caught.value.message == f"Additional properties are not allowed ('{field}' was unexpected)"


def test_personality_is_gone_from_2_57() -> None:
    body = server(v.PERSONALITY_GONE, personality=[])
    body.check_version(before(v.PERSONALITY_GONE))
    with pytest.raises(errors.BadRequest, match="'personality' was unexpected"):
        body.check_version(v.PERSONALITY_GONE)


def test_update_description_from_2_19() -> None:
    body = ServerUpdateBody.model_validate({"server": {"description": None}})
    body.check_version(v.DESCRIPTION)
    with pytest.raises(errors.BadRequest, match="'description' was unexpected"):
        body.check_version(before(v.DESCRIPTION))


def test_flavor_description_from_2_55() -> None:
    given = {"description"}
    refuse_out_of_version(given, v.FLAVOR_DESCRIPTION, {"description": v.FLAVOR_DESCRIPTION})
    with pytest.raises(errors.BadRequest, match="'description' was unexpected"):
        refuse_out_of_version(given, before(v.FLAVOR_DESCRIPTION), {"description": v.FLAVOR_DESCRIPTION})


def test_several_unexpected_keys_are_named_together() -> None:
    with pytest.raises(errors.BadRequest) as caught:
        refuse_out_of_version(
            {"tags", "description"}, APIVersion(2, 1), {"tags": v.TAGS, "description": v.DESCRIPTION}
        )
    assert (
        caught.value.message
        == "Additional properties are not allowed ('description', 'tags' were unexpected)"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"server": {"name": "s", "flavorRef": "1", "colour": "blue"}},
        {"server": {"name": "s", "flavorRef": "1"}, "colour": "blue"},
    ],
)
def test_keys_no_version_knows_are_refused_in_novas_words(body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        ServerCreateBody.model_validate(body)
    assert reason(caught.value) == "Additional properties are not allowed ('colour' was unexpected)"


def test_scheduler_hints_take_any_key_as_novas_do() -> None:
    hints = {"group": "g", "build_near_host_ip": "10.0.0.1", "my_filter": {"x": 1}}
    body = ServerCreateBody.model_validate(
        {"server": {"name": "s", "flavorRef": "1"}, "os:scheduler_hints": hints}
    )
    assert body.scheduler_hints == hints


def test_flavor_body_types_normalise() -> None:
    flavor = FlavorCreateBody.model_validate(
        {
            "flavor": {
                "name": "f",
                "id": 7,
                "ram": "512",
                "vcpus": "1",
                "disk": "0",
                "os-flavor-access:is_public": "no",
            }
        }
    ).flavor
    assert (flavor.id, flavor.ram, flavor.vcpus, flavor.disk, flavor.is_public) == ("7", 512, 1, 0, False)
