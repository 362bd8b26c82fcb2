"""EC2's XML rendering: plain values, constants rendered once, Inline children without an element."""

from __future__ import annotations

from datetime import UTC, datetime
from types import MappingProxyType
from xml.etree import ElementTree

from overcast.api.ec2 import xml
from overcast.ec2.backends import ConstantItems, Inline

NS = "{http://ec2.amazonaws.com/doc/2016-11-15/}"
SHARED = MappingProxyType({"state": "disabled"})
ALIKE = Inline({"platformDetails": "Linux/UNIX", "options": MappingProxyType({"enabled": False})})
GROUPS = ConstantItems((MappingProxyType({"groupName": "default", "groupId": "sg-1"}),))


def _item(index: int) -> dict[str, object]:
    return {"instanceId": f"i-{index}", "monitoring": SHARED, "_alike": ALIKE, "launchIndex": index,
            "launchTime": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC), "ok": True, "gone": None,
            "name": "a<b&c\x01", "groupSet": GROUPS, "tagSet": []}  # fmt: skip


def test_items_render_in_order_with_constants_and_inline_children_in_place() -> None:
    body = xml.response("DescribeInstances", "req-1", {"instancesSet": [_item(0), _item(1)]})
    root = ElementTree.fromstring(body)
    assert root.tag == f"{NS}DescribeInstancesResponse" and root.findtext(f"{NS}requestId") == "req-1"
    items = root.findall(f"{NS}instancesSet/{NS}item")
    assert [[child.tag.removeprefix(NS) for child in item] for item in items] == [
        [
            "instanceId",
            "monitoring",
            "platformDetails",
            "options",
            "launchIndex",
            "launchTime",
            "ok",
            "name",
            "groupSet",
            "tagSet",
        ]
    ] * 2
    second = items[1]
    assert (
        second.findtext(f"{NS}instanceId") == "i-1"
        and second.findtext(f"{NS}monitoring/{NS}state") == "disabled"
    )
    assert second.findtext(f"{NS}options/{NS}enabled") == "false"
    assert second.findtext(f"{NS}launchTime") == "2026-01-02T03:04:05.678Z"
    assert [g.findtext(f"{NS}groupId") for g in second.findall(f"{NS}groupSet/{NS}item")] == ["sg-1"]
    assert second.find(f"{NS}tagSet") is not None and len(second.find(f"{NS}tagSet")) == 0
    # Markup is escaped and what XML 1.0 cannot carry is dropped.
    assert second.findtext(f"{NS}name") == "a<b&c"


def test_errors_are_aws_error_bodies() -> None:
    root = ElementTree.fromstring(xml.error("InvalidAction", "No <such> action", "req-2"))
    assert (root.findtext("Errors/Error/Code"), root.findtext("Errors/Error/Message")) == (
        "InvalidAction",
        "No <such> action",
    )
    assert root.findtext("RequestID") == "req-2"
