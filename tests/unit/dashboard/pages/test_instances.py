from __future__ import annotations

import base64

import pytest

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.instances import ACTIONS, actions_for, is_changing, launch_body
from overcast.dashboard.web import Form


def names(server: dict[str, object]) -> set[str]:
    return {action.name for action in actions_for(server)}


def test_a_running_server_offers_what_nova_allows_when_active() -> None:
    offered = names({"status": "ACTIVE", "locked": False})
    assert {
        "stop",
        "reboot-soft",
        "reboot-hard",
        "pause",
        "suspend",
        "lock",
        "resize",
        "rebuild",
        "snapshot",
        "shelve",
        "rescue",
        "delete",
    } <= offered
    assert not offered & {"start", "unpause", "resume", "unlock", "confirm-resize", "unshelve", "unrescue"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SHUTOFF", {"start"}),
        ("PAUSED", {"unpause"}),
        ("SUSPENDED", {"resume"}),
        ("VERIFY_RESIZE", {"confirm-resize", "revert-resize"}),
        ("SHELVED_OFFLOADED", {"unshelve"}),
        ("RESCUE", {"unrescue"}),
    ],
)
def test_each_status_offers_its_way_out(status: str, expected: set[str]) -> None:
    offered = names({"status": status})
    assert expected <= offered and "delete" in offered
    assert "stop" not in offered


def test_lock_and_unlock_follow_the_lock() -> None:
    assert "unlock" in names({"status": "ACTIVE", "locked": True})
    assert "lock" not in names({"status": "ACTIVE", "locked": True})


def test_a_server_changes_while_it_has_a_task_or_a_passing_status() -> None:
    assert is_changing({"status": "BUILD"})
    assert is_changing({"status": "ACTIVE", "OS-EXT-STS:task_state": "powering-off"})
    assert not is_changing({"status": "ACTIVE", "OS-EXT-STS:task_state": None})


def test_action_bodies_are_novas() -> None:
    form = Form({"flavor": ["2"], "image": ["img"], "name": ["snap"]})
    assert ACTIONS["reboot-hard"].body(form) == {"reboot": {"type": "HARD"}}  # type: ignore[misc]
    assert ACTIONS["resize"].body(form) == {"resize": {"flavorRef": "2"}}  # type: ignore[misc]
    assert ACTIONS["snapshot"].body(form) == {"createImage": {"name": "snap"}}  # type: ignore[misc]
    assert ACTIONS["stop"].body(form) == {"os-stop": None}  # type: ignore[misc]
    assert ACTIONS["delete"].body is None


def test_launch_body_from_the_wizard() -> None:
    form = Form(
        {
            "name": ["web"],
            "image": ["img"],
            "flavor": ["1"],
            "count": ["3"],
            "network": ["n1", "n2"],
            "security_group": ["default", "web"],
            "key_name": ["mine"],
            "admin_password": ["Secret 1"],
            "user_data": ["#!/bin/sh\n"],
        }
    )
    server = launch_body(form)["server"]
    assert server["min_count"] == server["max_count"] == 3
    assert server["networks"] == [{"uuid": "n1"}, {"uuid": "n2"}]
    assert server["security_groups"] == [{"name": "default"}, {"name": "web"}]
    assert server["key_name"] == "mine"
    assert server["adminPass"] == "Secret 1"
    assert base64.b64decode(server["user_data"]) == b"#!/bin/sh\n"


def test_launch_without_network_lets_the_cloud_choose_and_refuses_a_bad_count() -> None:
    server = launch_body(Form({"name": ["a"], "image": ["i"], "flavor": ["1"]}))["server"]
    assert server["networks"] == "auto"
    assert not {"key_name", "user_data", "adminPass", "security_groups"} & set(server)
    for count in ("0", "many"):
        with pytest.raises(APIError) as refused:
            launch_body(Form({"count": [count]}))
        assert refused.value.status == 400
