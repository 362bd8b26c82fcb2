from __future__ import annotations

import pytest

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.images import custom_properties, property_changes
from overcast.dashboard.web import Form

IMAGE = {
    "id": "i1",
    "name": "cirros",
    "visibility": "private",
    "protected": False,
    "min_disk": 0,
    "min_ram": 0,
    "status": "active",
    "size": 10,
    "os_distro": "cirros",
    "hw_disk_bus": "virtio",
}


def form(**fields: str) -> Form:
    base = {
        "name": "cirros",
        "visibility": "private",
        "min_disk": "0",
        "min_ram": "0",
        "properties": "os_distro=cirros\nhw_disk_bus=virtio",
    }
    return Form({key: [value] for key, value in {**base, **fields}.items()})


def test_only_glances_own_fields_are_not_custom_properties() -> None:
    assert custom_properties(IMAGE) == {"os_distro": "cirros", "hw_disk_bus": "virtio"}


def test_an_unchanged_form_changes_nothing() -> None:
    assert property_changes(IMAGE, form()) == []


def test_each_change_is_one_json_patch_operation() -> None:
    changes = property_changes(
        IMAGE,
        form(name="new", min_ram="128", protected="on", properties="os_distro=debian\nowner_team = web"),
    )
    assert changes == [
        {"op": "replace", "path": "/name", "value": "new"},
        {"op": "replace", "path": "/min_ram", "value": 128},
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "remove", "path": "/hw_disk_bus"},
        {"op": "replace", "path": "/os_distro", "value": "debian"},
        {"op": "add", "path": "/owner_team", "value": "web"},
    ]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"properties": "no equals"}, "is not key=value"),
        ({"properties": "=value"}, "is not key=value"),
        ({"min_disk": "-1"}, "Min disk must be a whole number."),
        ({"min_ram": "1.5"}, "Min ram must be a whole number."),
    ],
)
def test_a_bad_form_is_a_400_with_its_reason(fields: dict[str, str], message: str) -> None:
    with pytest.raises(APIError) as refused:
        property_changes(IMAGE, form(**fields))
    assert refused.value.status == 400 and message in refused.value.message
