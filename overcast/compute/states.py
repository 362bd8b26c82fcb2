"""Instance states and the one table of which action may start from which state.

An instance has a stable `vm_state` (what the user should expect the VM to be) and a transient
`task_state` (what is happening to it right now, or None). The values are Nova's, so API clients and
operators see familiar strings. `ACTIONS` says, for each user action, from which (vm_state, task_state)
pairs it may start, which task_state it sets when it starts, and the (vm_state, task_state) it leaves
when it finishes. The guards mirror Nova's `check_instance_state` decorators in nova/compute/api.py.

The compute API turns a `Transition` into a database compare-and-swap:
``UPDATE instances SET task_state = :new_task_state WHERE uuid = :uuid AND task_state IN
:expected_task_state`` so that two concurrent actions cannot both start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from overcast import errors

# --- vm_state -------------------------------------------------------------------------------------
ACTIVE: Final = "active"
BUILDING: Final = "building"
PAUSED: Final = "paused"
SUSPENDED: Final = "suspended"
STOPPED: Final = "stopped"
RESCUED: Final = "rescued"
RESIZED: Final = "resized"
SOFT_DELETED: Final = "soft-delete"
DELETED: Final = "deleted"
ERROR: Final = "error"
SHELVED: Final = "shelved"
SHELVED_OFFLOADED: Final = "shelved_offloaded"

VM_STATES: Final = (
    ACTIVE, BUILDING, PAUSED, SUSPENDED, STOPPED, RESCUED, RESIZED,
    SOFT_DELETED, DELETED, ERROR, SHELVED, SHELVED_OFFLOADED,
)  # fmt: skip

# --- task_state (None means "no task running") ----------------------------------------------------
SCHEDULING: Final = "scheduling"
BLOCK_DEVICE_MAPPING: Final = "block_device_mapping"
NETWORKING: Final = "networking"
SPAWNING: Final = "spawning"
IMAGE_SNAPSHOT: Final = "image_snapshot"
IMAGE_SNAPSHOT_PENDING: Final = "image_snapshot_pending"
IMAGE_PENDING_UPLOAD: Final = "image_pending_upload"
IMAGE_UPLOADING: Final = "image_uploading"
UPDATING_PASSWORD: Final = "updating_password"
RESIZE_PREP: Final = "resize_prep"
RESIZE_MIGRATING: Final = "resize_migrating"
RESIZE_MIGRATED: Final = "resize_migrated"
RESIZE_FINISH: Final = "resize_finish"
RESIZE_REVERTING: Final = "resize_reverting"
RESIZE_CONFIRMING: Final = "resize_confirming"
REBOOTING: Final = "rebooting"
REBOOT_PENDING: Final = "reboot_pending"
REBOOT_STARTED: Final = "reboot_started"
REBOOTING_HARD: Final = "rebooting_hard"
REBOOT_PENDING_HARD: Final = "reboot_pending_hard"
REBOOT_STARTED_HARD: Final = "reboot_started_hard"
PAUSING: Final = "pausing"
UNPAUSING: Final = "unpausing"
SUSPENDING: Final = "suspending"
RESUMING: Final = "resuming"
POWERING_OFF: Final = "powering-off"
POWERING_ON: Final = "powering-on"
RESCUING: Final = "rescuing"
UNRESCUING: Final = "unrescuing"
REBUILDING: Final = "rebuilding"
REBUILD_BLOCK_DEVICE_MAPPING: Final = "rebuild_block_device_mapping"
REBUILD_SPAWNING: Final = "rebuild_spawning"
MIGRATING: Final = "migrating"  # live migration; only here so the MIGRATING status has a source
DELETING: Final = "deleting"
SOFT_DELETING: Final = "soft-deleting"
RESTORING: Final = "restoring"
SHELVING: Final = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD: Final = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING: Final = "shelving_image_uploading"
SHELVING_OFFLOADING: Final = "shelving_offloading"
UNSHELVING: Final = "unshelving"

TASK_STATES: Final[tuple[str | None, ...]] = (
    None, SCHEDULING, BLOCK_DEVICE_MAPPING, NETWORKING, SPAWNING, IMAGE_SNAPSHOT, IMAGE_SNAPSHOT_PENDING,
    IMAGE_PENDING_UPLOAD, IMAGE_UPLOADING, UPDATING_PASSWORD, RESIZE_PREP, RESIZE_MIGRATING,
    RESIZE_MIGRATED, RESIZE_FINISH, RESIZE_REVERTING, RESIZE_CONFIRMING, REBOOTING, REBOOT_PENDING,
    REBOOT_STARTED, REBOOTING_HARD, REBOOT_PENDING_HARD, REBOOT_STARTED_HARD, PAUSING, UNPAUSING,
    SUSPENDING, RESUMING, POWERING_OFF, POWERING_ON, RESCUING, UNRESCUING, REBUILDING,
    REBUILD_BLOCK_DEVICE_MAPPING, REBUILD_SPAWNING, MIGRATING, DELETING, SOFT_DELETING, RESTORING,
    SHELVING, SHELVING_IMAGE_PENDING_UPLOAD, SHELVING_IMAGE_UPLOADING, SHELVING_OFFLOADING, UNSHELVING,
)  # fmt: skip

# A hard reboot may interrupt these tasks: it is the user's way out of a guest stuck mid-operation.
ALLOW_REBOOT: Final[tuple[str | None, ...]] = (
    None, REBOOTING, REBOOT_PENDING, REBOOT_STARTED, RESUMING, REBOOTING_HARD, UNPAUSING, PAUSING,
    SUSPENDING,
)  # fmt: skip
ALLOW_SOFT_REBOOT: Final = (ACTIVE,)
ALLOW_HARD_REBOOT: Final = (ACTIVE, STOPPED, PAUSED, SUSPENDED, ERROR)


class Wildcard:
    """Wildcard for a guard ("any vm_state" / "any task_state") or a status filter pair."""

    _instance: Wildcard | None = None

    def __new__(cls) -> Wildcard:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"


ANY: Final = Wildcard()

# Sentinels for an action's final vm_state that depends on the instance rather than the action.
UNCHANGED: Final = "<unchanged>"  # the vm_state the action started from
POWER_RESTORED: Final = "<power-restored>"  # STOPPED if the instance was stopped before, else ACTIVE


@dataclass(frozen=True)
class Action:
    """One row of the table: a user action's guard and effects."""

    name: str
    api_name: str  # the name Nova's conflict messages use ("reboot", "confirmResize", ...)
    vm_states: tuple[str, ...] | Wildcard
    task_states: tuple[str | None, ...] | Wildcard
    new_task_state: str | None  # set by the compare-and-swap; None: the action sets no task_state
    done_vm_state: str
    done_task_state: str | None = None
    steps: tuple[str, ...] = ()  # task_states the worker moves through after new_task_state

    def allows(self, vm_state: str, task_state: str | None) -> bool:
        return self.allows_vm_state(vm_state) and self.allows_task_state(task_state)

    def allows_vm_state(self, vm_state: str) -> bool:
        return isinstance(self.vm_states, Wildcard) or vm_state in self.vm_states

    def allows_task_state(self, task_state: str | None) -> bool:
        return isinstance(self.task_states, Wildcard) or task_state in self.task_states


@dataclass(frozen=True)
class Transition:
    """What `check_action` hands to the compute API: the compare-and-swap and the expected outcome."""

    action: str
    vm_state: str
    task_state: str | None
    expected_task_state: tuple[str | None, ...] | Wildcard  # the CAS guard on task_state
    new_task_state: str | None
    sets_task_state: bool  # False: no CAS needed (read-only or task-less actions)
    done_vm_state: str
    done_task_state: str | None
    steps: tuple[str, ...]


_IDLE: Final[tuple[str | None, ...]] = (None,)
_SNAPSHOT_VM_STATES: Final = (ACTIVE, STOPPED, PAUSED, SUSPENDED)


def _row(
    name: str,
    api_name: str,
    vm_states: tuple[str, ...] | Wildcard,
    new_task_state: str | None,
    done_vm_state: str,
    *,
    task_states: tuple[str | None, ...] | Wildcard = _IDLE,
    done_task_state: str | None = None,
    steps: tuple[str, ...] = (),
) -> Action:
    return Action(
        name, api_name, vm_states, task_states, new_task_state, done_vm_state, done_task_state, steps
    )


ACTIONS: Final[dict[str, Action]] = {
    row.name: row
    for row in (
        _row("reboot_soft", "reboot", ALLOW_SOFT_REBOOT, REBOOTING, ACTIVE,
             steps=(REBOOT_PENDING, REBOOT_STARTED)),
        _row("reboot_hard", "reboot", ALLOW_HARD_REBOOT, REBOOTING_HARD, ACTIVE,
             task_states=ALLOW_REBOOT, steps=(REBOOT_PENDING_HARD, REBOOT_STARTED_HARD)),
        _row("stop", "stop", (ACTIVE, ERROR), POWERING_OFF, STOPPED),
        _row("start", "start", (STOPPED,), POWERING_ON, ACTIVE),
        _row("pause", "pause", (ACTIVE,), PAUSING, PAUSED),
        _row("unpause", "unpause", (PAUSED,), UNPAUSING, ACTIVE),
        _row("suspend", "suspend", (ACTIVE,), SUSPENDING, SUSPENDED),
        _row("resume", "resume", (SUSPENDED,), RESUMING, ACTIVE),
        _row("rescue", "rescue", (ACTIVE, STOPPED, ERROR), RESCUING, RESCUED),
        _row("unrescue", "unrescue", (RESCUED,), UNRESCUING, ACTIVE),
        _row("resize", "resize", (ACTIVE, STOPPED), RESIZE_PREP, RESIZED,
             steps=(RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH)),
        # A cold migration is a resize to the same flavor on another host (Nova's guard is resize's).
        _row("migrate", "migrate", (ACTIVE, STOPPED), RESIZE_PREP, RESIZED,
             steps=(RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH)),
        _row("confirm_resize", "confirmResize", (RESIZED,), RESIZE_CONFIRMING, POWER_RESTORED),
        _row("revert_resize", "revertResize", (RESIZED,), RESIZE_REVERTING, POWER_RESTORED),
        _row("rebuild", "rebuild", (ACTIVE, STOPPED, ERROR), REBUILDING, POWER_RESTORED,
             steps=(REBUILD_BLOCK_DEVICE_MAPPING, REBUILD_SPAWNING)),
        _row("create_image", "createImage", _SNAPSHOT_VM_STATES, IMAGE_SNAPSHOT_PENDING, UNCHANGED,
             steps=(IMAGE_SNAPSHOT, IMAGE_PENDING_UPLOAD, IMAGE_UPLOADING)),
        # Ends SHELVED_OFFLOADED instead when the cloud offloads immediately (shelved_offload_time 0).
        _row("shelve", "shelve", _SNAPSHOT_VM_STATES, SHELVING, SHELVED,
             steps=(SHELVING_IMAGE_PENDING_UPLOAD, SHELVING_IMAGE_UPLOADING)),
        _row("shelve_offload", "shelveOffload", (SHELVED,), SHELVING_OFFLOADING, SHELVED_OFFLOADED),
        _row("unshelve", "unshelve", (SHELVED, SHELVED_OFFLOADED), UNSHELVING, ACTIVE,
             steps=(SCHEDULING, SPAWNING)),
        # Deleting must always be possible, even mid-task: it is how users get out of any stuck state.
        _row("delete", "delete", ANY, DELETING, DELETED, task_states=ANY),
        _row("force_delete", "forceDelete", ANY, DELETING, DELETED, task_states=ANY),
        # Nova allows any vm_state; soft-deleting what is already (soft-)deleted is meaningless.
        _row("soft_delete", "delete", tuple(s for s in VM_STATES if s not in (SOFT_DELETED, DELETED)),
             SOFT_DELETING, SOFT_DELETED, task_states=ANY),
        _row("restore", "restore", (SOFT_DELETED,), RESTORING, ACTIVE),
        _row("set_admin_password", "changePassword", (ACTIVE,), UPDATING_PASSWORD, ACTIVE),
        # Read-only or task-less actions: no compare-and-swap, the instance stays as it is.
        # os-interface: no task of their own (the compute host's call is synchronous for attach).
        _row("attach_interface", "attach_interface", (ACTIVE, PAUSED, STOPPED), None, UNCHANGED),
        _row("detach_interface", "detach_interface", (ACTIVE, PAUSED, STOPPED), None, UNCHANGED),
        # os-volume_attachments: no task either (Nova's guards; a stopped VM has its spec changed only).
        _row("attach_volume", "attach_volume", (ACTIVE, PAUSED, STOPPED, RESIZED), None, UNCHANGED),
        _row("detach_volume", "detach_volume", (ACTIVE, PAUSED, STOPPED, RESIZED), None, UNCHANGED),
        _row("swap_volume", "swap_volume", (ACTIVE, PAUSED, RESIZED), None, UNCHANGED),
        _row("trigger_crash_dump", "trigger_crash_dump", (ACTIVE, PAUSED, RESCUED, RESIZED, ERROR), None,
             UNCHANGED),
        _row("get_console_output", "os-getConsoleOutput", ANY, None, UNCHANGED,
             task_states=tuple(t for t in TASK_STATES if t not in (DELETING, MIGRATING))),
    )
}  # fmt: skip


def invalid_state_message(api_name: str, uuid: str, attr: str, state: str | None) -> str:
    """Nova's wording (nova.api.openstack.common.raise_http_conflict_for_instance_invalid_state)."""
    return f"Cannot '{api_name}' instance {uuid} while it is in {attr} {state}"


def check_action(
    action: str,
    vm_state: str,
    task_state: str | None,
    uuid: str = "",
    *,
    vm_state_before: str | None = None,
) -> Transition:
    """Return the transition `action` starts from this state, or raise errors.Conflict.

    `vm_state_before` is the vm_state the instance had before a resize (Nova keeps it in system
    metadata); confirm/revert resize use it to come back stopped if the instance was stopped.
    """
    row = ACTIONS.get(action)
    if row is None:
        raise errors.BadRequest(f"Unknown instance action {action!r}.")
    if not row.allows_vm_state(vm_state):
        raise errors.Conflict(
            invalid_state_message(row.api_name, uuid, "vm_state", vm_state),
            action=action, attr="vm_state", state=vm_state,
        )  # fmt: skip
    if not row.allows_task_state(task_state):
        raise errors.Conflict(
            invalid_state_message(row.api_name, uuid, "task_state", task_state),
            action=action, attr="task_state", state=task_state,
        )  # fmt: skip
    return Transition(
        action=action,
        vm_state=vm_state,
        task_state=task_state,
        expected_task_state=row.task_states,
        new_task_state=row.new_task_state,
        sets_task_state=row.new_task_state is not None,
        done_vm_state=_resolve_done_vm_state(row.done_vm_state, vm_state, vm_state_before),
        done_task_state=row.done_task_state,
        steps=row.steps,
    )


def _resolve_done_vm_state(done: str, vm_state: str, vm_state_before: str | None) -> str:
    if done == UNCHANGED:
        return vm_state
    if done == POWER_RESTORED:
        return STOPPED if (vm_state_before or vm_state) == STOPPED else ACTIVE
    return done


def allowed_actions(vm_state: str, task_state: str | None) -> list[str]:
    """Names of the actions that may start from this state."""
    return [name for name, row in ACTIONS.items() if row.allows(vm_state, task_state)]


# --- API server status ----------------------------------------------------------------------------
# Like nova.api.openstack.common._STATE_MAP: a vm_state's "default" status unless its task_state maps
# to a more specific one.
_DEFAULT: Final = "default"
_RESIZING: Final[dict[str | None, str]] = dict.fromkeys(
    (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH), "RESIZE"
)
_REBUILDING: Final[dict[str | None, str]] = dict.fromkeys(
    (REBUILDING, REBUILD_BLOCK_DEVICE_MAPPING, REBUILD_SPAWNING), "REBUILD"
)

STATUS_MAP: Final[dict[str, dict[str | None, str]]] = {
    ACTIVE: {
        _DEFAULT: "ACTIVE",
        REBOOTING: "REBOOT", REBOOT_PENDING: "REBOOT", REBOOT_STARTED: "REBOOT",
        REBOOTING_HARD: "HARD_REBOOT", REBOOT_PENDING_HARD: "HARD_REBOOT",
        REBOOT_STARTED_HARD: "HARD_REBOOT",
        UPDATING_PASSWORD: "PASSWORD",
        MIGRATING: "MIGRATING",
        **_REBUILDING,
        **_RESIZING,
    },
    BUILDING: {_DEFAULT: "BUILD"},
    STOPPED: {_DEFAULT: "SHUTOFF", **_RESIZING, **_REBUILDING},
    RESIZED: {_DEFAULT: "VERIFY_RESIZE", RESIZE_REVERTING: "REVERT_RESIZE"},
    PAUSED: {_DEFAULT: "PAUSED", MIGRATING: "MIGRATING"},
    SUSPENDED: {_DEFAULT: "SUSPENDED"},
    RESCUED: {_DEFAULT: "RESCUE"},
    ERROR: {_DEFAULT: "ERROR", **_REBUILDING},
    DELETED: {_DEFAULT: "DELETED"},
    SOFT_DELETED: {_DEFAULT: "SOFT_DELETED"},
    SHELVED: {_DEFAULT: "SHELVED"},
    SHELVED_OFFLOADED: {_DEFAULT: "SHELVED_OFFLOADED"},
}  # fmt: skip

UNKNOWN_STATUS: Final = "UNKNOWN"
STATUSES: Final = tuple(sorted({status for row in STATUS_MAP.values() for status in row.values()}))


def status_from_state(vm_state: str | None, task_state: str | None = None) -> str:
    """The server `status` the compute API shows for this (vm_state, task_state)."""
    row = STATUS_MAP.get(vm_state or "")
    if row is None:
        return UNKNOWN_STATUS
    return row.get(task_state, row[_DEFAULT])


def states_for_status(status: str) -> list[tuple[str, str | Wildcard | None]]:
    """The (vm_state, task_state) pairs whose status is `status` (case-insensitive), for list filters.

    A vm_state whose every task_state shows this status comes back as one (vm_state, ANY) pair; one
    where some task_states show another status (ACTIVE while rebooting shows REBOOT) is spelled out
    task_state by task_state, so the filter is exact. An unknown status matches nothing.
    """
    wanted = status.strip().upper()
    pairs: list[tuple[str, str | Wildcard | None]] = []
    for vm_state, row in STATUS_MAP.items():
        matching = [task for task in TASK_STATES if row.get(task, row[_DEFAULT]) == wanted]
        if len(matching) == len(TASK_STATES):
            pairs.append((vm_state, ANY))
        else:
            pairs.extend((vm_state, task) for task in matching)
    return pairs
