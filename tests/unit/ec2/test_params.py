"""AWS's flattened query parameters read as scalars, lists, structures and filters."""

from __future__ import annotations

import pytest

from overcast.ec2.errors import Ec2Error
from overcast.ec2.params import Params, filters_of

VALUES = {
    "InstanceId.2": "i-b", "InstanceId.1": "i-a", "InstanceId.10": "i-j",
    "Filter.1.Name": "tag:Name", "Filter.1.Value.1": "web", "Filter.1.Value.2": "db",
    "TagSpecification.1.ResourceType": "instance", "TagSpecification.1.Tag.1.Key": "k",
    "TagSpecification.1.Tag.1.Value": "v", "Placement.AvailabilityZone": "nova", "MinCount": "2",
    "DryRun": "true",
}  # fmt: skip


def test_numbered_lists_come_in_numeric_order() -> None:
    assert Params(VALUES).strings("InstanceId") == ["i-a", "i-b", "i-j"]


def test_structures_and_nested_lists() -> None:
    params = Params(VALUES)
    (spec,) = params.structs("TagSpecification")
    assert spec.required("ResourceType") == "instance"
    assert [(tag.get("Key"), tag.get("Value")) for tag in spec.structs("Tag")] == [("k", "v")]
    assert params.struct("Placement").get("AvailabilityZone") == "nova"
    assert [(f.name, f.values) for f in filters_of(params)] == [("tag:Name", ("web", "db"))]


def test_scalars_are_checked() -> None:
    params = Params(VALUES)
    assert params.integer("MinCount", low=1) == 2 and params.boolean("DryRun") is True
    checks = (
        (lambda: params.integer("MinCount", low=3), "InvalidParameterValue"),
        (lambda: Params({"DryRun": "yes"}).boolean("DryRun"), "InvalidParameterValue"),
        (lambda: params.required("ImageId"), "MissingParameter"),
        (lambda: Params({"InstanceId.x": "i"}).strings("InstanceId"), "InvalidParameter"),
        (lambda: filters_of(Params({"Filter.1.Name": "a"})), "InvalidParameterCombination"),
    )
    for call, code in checks:
        with pytest.raises(Ec2Error) as error:
            call()
        assert error.value.code == code
