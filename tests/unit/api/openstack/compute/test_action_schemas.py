"""The multinic and floating IP action bodies (up to 2.43), as Nova's schemas accept and refuse them."""

from __future__ import annotations

from typing import Any

import pytest

from overcast import errors
from overcast.api.openstack.compute import action_schemas as schemas


@pytest.mark.parametrize(("given", "read"), [("3f0c", "3f0c"), ("x" * 36, "x" * 36), (7, "7"), (1.5, "1.5")])
def test_add_fixed_ip_takes_a_network_id_as_a_string_or_a_number(given: Any, read: str) -> None:
    assert schemas.parse("addFixedIp", schemas.AddFixedIp, {"networkId": given}).networkId == read


@pytest.mark.parametrize("given", [{"networkId": ""}, {"networkId": "x" * 37}, {"networkId": True},
                                   {"networkId": None}, {}, {"networkId": "n", "extra": 1}])  # fmt: skip
def test_add_fixed_ip_refuses_what_nova_refuses(given: dict[str, Any]) -> None:
    with pytest.raises(errors.BadRequest, match="Invalid input for field/attribute addFixedIp"):
        schemas.parse("addFixedIp", schemas.AddFixedIp, given)


def test_floating_and_fixed_addresses_are_ip_addresses() -> None:
    body = schemas.parse(
        "addFloatingIp", schemas.AddFloatingIp, {"address": "192.0.2.7", "fixed_address": "::1"}
    )
    assert (body.address, body.fixed_address) == ("192.0.2.7", "::1")
    assert (
        schemas.parse("removeFixedIp", schemas.RemoveFixedIp, {"address": "10.0.0.3"}).address == "10.0.0.3"
    )
    for model, action in (
        (schemas.RemoveFloatingIp, "removeFloatingIp"),
        (schemas.RemoveFixedIp, "removeFixedIp"),
    ):
        with pytest.raises(errors.BadRequest):
            schemas.parse(action, model, {"address": "10.0.0.300"})
