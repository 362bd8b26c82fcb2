"""The state table, checked against Nova's check_instance_state guards written out independently here."""

from __future__ import annotations

import itertools

import pytest

from overcast import errors
from overcast.compute import states as s

ALL_VM = frozenset(s.VM_STATES)
ALL_TASKS = frozenset(s.TASK_STATES)
IDLE = frozenset({None})
NOVA_ALLOW_REBOOT = frozenset(
    {None, "rebooting", "reboot_pending", "reboot_started", "resuming", "rebooting_hard", "unpausing",
     "pausing", "suspending"}
)  # fmt: skip

# action -> (allowed vm_states, allowed task_states, task_state set at start, vm_state when done)
# as in nova/compute/api.py; "done" is for an instance that was ACTIVE (or the only allowed state).
NOVA: dict[str, tuple[frozenset[str], frozenset[str | None], str | None, str]] = {
    "reboot_soft": (frozenset({"active"}), IDLE, "rebooting", "active"),
    "reboot_hard": (
        frozenset({"active", "stopped", "paused", "suspended", "error"}), NOVA_ALLOW_REBOOT,
        "rebooting_hard", "active",
    ),
    "stop": (frozenset({"active", "error"}), IDLE, "powering-off", "stopped"),
    "start": (frozenset({"stopped"}), IDLE, "powering-on", "active"),
    "pause": (frozenset({"active"}), IDLE, "pausing", "paused"),
    "unpause": (frozenset({"paused"}), IDLE, "unpausing", "active"),
    "suspend": (frozenset({"active"}), IDLE, "suspending", "suspended"),
    "resume": (frozenset({"suspended"}), IDLE, "resuming", "active"),
    "rescue": (frozenset({"active", "stopped", "error"}), IDLE, "rescuing", "rescued"),
    "unrescue": (frozenset({"rescued"}), IDLE, "unrescuing", "active"),
    "resize": (frozenset({"active", "stopped"}), IDLE, "resize_prep", "resized"),
    "migrate": (frozenset({"active", "stopped"}), IDLE, "resize_prep", "resized"),
    "confirm_resize": (frozenset({"resized"}), IDLE, "resize_confirming", "active"),
    "revert_resize": (frozenset({"resized"}), IDLE, "resize_reverting", "active"),
    "rebuild": (frozenset({"active", "stopped", "error"}), IDLE, "rebuilding", "active"),
    "create_image": (
        frozenset({"active", "stopped", "paused", "suspended"}), IDLE, "image_snapshot_pending", "active",
    ),
    "shelve": (frozenset({"active", "stopped", "paused", "suspended"}), IDLE, "shelving", "shelved"),
    "shelve_offload": (frozenset({"shelved"}), IDLE, "shelving_offloading", "shelved_offloaded"),
    "unshelve": (frozenset({"shelved", "shelved_offloaded"}), IDLE, "unshelving", "active"),
    "delete": (ALL_VM, ALL_TASKS, "deleting", "deleted"),
    "force_delete": (ALL_VM, ALL_TASKS, "deleting", "deleted"),
    "soft_delete": (ALL_VM - {"soft-delete", "deleted"}, ALL_TASKS, "soft-deleting", "soft-delete"),
    "restore": (frozenset({"soft-delete"}), IDLE, "restoring", "active"),
    "set_admin_password": (frozenset({"active"}), IDLE, "updating_password", "active"),
    "get_console_output": (ALL_VM, ALL_TASKS - {"deleting", "migrating"}, None, "active"),
    "attach_interface": (frozenset({"active", "paused", "stopped"}), IDLE, None, "active"),
    "detach_interface": (frozenset({"active", "paused", "stopped"}), IDLE, None, "active"),
    "attach_volume": (frozenset({"active", "paused", "stopped", "resized"}), IDLE, None, "active"),
    "detach_volume": (frozenset({"active", "paused", "stopped", "resized"}), IDLE, None, "active"),
    "swap_volume": (frozenset({"active", "paused", "resized"}), IDLE, None, "active"),
    "trigger_crash_dump": (
        frozenset({"active", "paused", "rescued", "resized", "error"}), IDLE, None, "active",
    ),
}  # fmt: skip

UUID = "0b5e8a8c-1111-4c3e-9a57-7f6a2c0d9e11"


def test_every_action_in_the_table_is_checked_here() -> None:
    assert set(s.ACTIONS) == set(NOVA)


def test_the_state_constants_are_novas_strings() -> None:
    assert len(s.VM_STATES) == len(ALL_VM) == 12
    assert {"soft-delete", "shelved_offloaded", "active"} <= ALL_VM
    assert {"powering-off", "soft-deleting", "image_uploading", "reboot_started_hard"} <= ALL_TASKS
    assert None in ALL_TASKS and len(s.TASK_STATES) == len(ALL_TASKS)


@pytest.mark.parametrize("action", sorted(NOVA))
def test_allowed_and_refused_states(action: str) -> None:
    vm_allowed, task_allowed, new_task_state, _ = NOVA[action]
    for vm_state, task_state in itertools.product(s.VM_STATES, s.TASK_STATES):
        if vm_state in vm_allowed and task_state in task_allowed:
            transition = s.check_action(action, vm_state, task_state, UUID)
            assert transition.new_task_state == new_task_state
            assert transition.sets_task_state == (new_task_state is not None)
            assert transition.done_task_state is None
            if task_allowed == ALL_TASKS:
                assert transition.expected_task_state is s.ANY
            else:
                assert isinstance(transition.expected_task_state, tuple)
                assert set(transition.expected_task_state) == task_allowed
        else:
            with pytest.raises(errors.Conflict):
                s.check_action(action, vm_state, task_state, UUID)


@pytest.mark.parametrize("action", sorted(NOVA))
def test_finishing_state_from_an_allowed_start(action: str) -> None:
    vm_allowed, task_allowed, _, done = NOVA[action]
    start = "active" if "active" in vm_allowed else sorted(vm_allowed)[0]
    transition = s.check_action(action, start, None if None in task_allowed else next(iter(task_allowed)))
    if NOVA[action][2] is None:  # read-only / task-less actions leave the instance as it was
        assert transition.done_vm_state == start
    else:
        assert transition.done_vm_state == done


@pytest.mark.parametrize(
    ("action", "vm_state", "vm_state_before", "done"),
    [
        ("rebuild", "stopped", None, "stopped"),
        ("rebuild", "error", None, "active"),
        ("confirm_resize", "resized", "stopped", "stopped"),
        ("revert_resize", "resized", "stopped", "stopped"),
        ("revert_resize", "resized", "active", "active"),
        ("create_image", "paused", None, "paused"),
        ("stop", "error", None, "stopped"),
        ("reboot_hard", "stopped", None, "active"),
    ],
)
def test_finishing_state_depends_on_where_the_instance_came_from(
    action: str, vm_state: str, vm_state_before: str | None, done: str
) -> None:
    assert s.check_action(action, vm_state, None, vm_state_before=vm_state_before).done_vm_state == done


def test_vm_state_refusal_message_is_novas() -> None:
    with pytest.raises(errors.Conflict) as caught:
        s.check_action("pause", "stopped", None, UUID)
    assert caught.value.message == f"Cannot 'pause' instance {UUID} while it is in vm_state stopped"
    assert caught.value.status == 409


def test_task_state_refusal_message_is_novas() -> None:
    with pytest.raises(errors.Conflict) as caught:
        s.check_action("reboot_soft", "active", "rebooting", UUID)
    assert caught.value.message == f"Cannot 'reboot' instance {UUID} while it is in task_state rebooting"


def test_messages_use_the_api_action_names() -> None:
    with pytest.raises(errors.Conflict, match="Cannot 'confirmResize' instance"):
        s.check_action("confirm_resize", "active", None, UUID)


def test_hard_reboot_interrupts_a_stuck_soft_reboot_and_the_cas_allows_it() -> None:
    transition = s.check_action("reboot_hard", "active", "reboot_started", UUID)
    assert transition.new_task_state == "rebooting_hard"
    assert isinstance(transition.expected_task_state, tuple)
    assert set(transition.expected_task_state) == NOVA_ALLOW_REBOOT


def test_delete_has_no_task_state_guard() -> None:
    assert s.check_action("delete", "building", "spawning").expected_task_state is s.ANY


def test_unknown_action_is_a_bad_request() -> None:
    with pytest.raises(errors.BadRequest):
        s.check_action("teleport", "active", None)


def test_allowed_actions_lists_what_the_table_allows() -> None:
    assert set(s.allowed_actions("paused", None)) == {
        name for name, (vms, tasks, _, _) in NOVA.items() if "paused" in vms and None in tasks
    }


@pytest.mark.parametrize(
    ("vm_state", "task_state", "status"),
    [
        ("active", None, "ACTIVE"),
        ("active", "rebooting", "REBOOT"),
        ("active", "reboot_started_hard", "HARD_REBOOT"),
        ("active", "updating_password", "PASSWORD"),
        ("active", "rebuild_spawning", "REBUILD"),
        ("active", "migrating", "MIGRATING"),
        ("active", "resize_migrated", "RESIZE"),
        ("active", "deleting", "ACTIVE"),
        ("building", "spawning", "BUILD"),
        ("stopped", None, "SHUTOFF"),
        ("stopped", "resize_prep", "RESIZE"),
        ("stopped", "rebuilding", "REBUILD"),
        ("resized", None, "VERIFY_RESIZE"),
        ("resized", "resize_reverting", "REVERT_RESIZE"),
        ("paused", None, "PAUSED"),
        ("suspended", None, "SUSPENDED"),
        ("rescued", "unrescuing", "RESCUE"),
        ("error", None, "ERROR"),
        ("error", "rebuilding", "REBUILD"),
        ("deleted", None, "DELETED"),
        ("soft-delete", None, "SOFT_DELETED"),
        ("shelved", None, "SHELVED"),
        ("shelved_offloaded", "unshelving", "SHELVED_OFFLOADED"),
        ("no-such-state", None, "UNKNOWN"),
        (None, None, "UNKNOWN"),
    ],
)
def test_status_from_state(vm_state: str | None, task_state: str | None, status: str) -> None:
    assert s.status_from_state(vm_state, task_state) == status


def _matches(pairs: list[tuple[str, str | s.Wildcard | None]], vm_state: str, task_state: str | None) -> bool:
    return any(vm == vm_state and (task is s.ANY or task == task_state) for vm, task in pairs)


@pytest.mark.parametrize("status", sorted(s.STATUSES))
def test_status_filter_matches_exactly_the_states_showing_that_status(status: str) -> None:
    pairs = s.states_for_status(status.lower())
    assert pairs, status
    for vm_state, task_state in itertools.product(s.VM_STATES, s.TASK_STATES):
        shown = s.status_from_state(vm_state, task_state)
        assert _matches(pairs, vm_state, task_state) == (shown == status), (vm_state, task_state)


def test_status_filter_is_compact_where_it_can_be() -> None:
    assert s.states_for_status("BUILD") == [("building", s.ANY)]
    assert ("active", s.ANY) not in s.states_for_status("ACTIVE")
    assert s.states_for_status("NO_SUCH_STATUS") == []
