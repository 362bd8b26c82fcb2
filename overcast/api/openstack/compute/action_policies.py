"""Policy rules of server actions, metadata, instance actions, passwords and diagnostics (Nova's names)."""

from __future__ import annotations

from overcast import policy

REBOOT = "os_compute_api:servers:reboot"
START = "os_compute_api:servers:start"
STOP = "os_compute_api:servers:stop"
RESIZE = "os_compute_api:servers:resize"
CONFIRM_RESIZE = "os_compute_api:servers:confirm_resize"
REVERT_RESIZE = "os_compute_api:servers:revert_resize"
REBUILD = "os_compute_api:servers:rebuild"
MIGRATE = "os_compute_api:os-migrate-server:migrate"
CREATE_IMAGE = "os_compute_api:servers:create_image"
PAUSE = "os_compute_api:os-pause-server:pause"
UNPAUSE = "os_compute_api:os-pause-server:unpause"
SUSPEND = "os_compute_api:os-suspend-server:suspend"
RESUME = "os_compute_api:os-suspend-server:resume"
LOCK = "os_compute_api:os-lock-server:lock"
UNLOCK = "os_compute_api:os-lock-server:unlock"
RESCUE = "os_compute_api:os-rescue"
UNRESCUE = "os_compute_api:os-unrescue"
SHELVE = "os_compute_api:os-shelve:shelve"
SHELVE_OFFLOAD = "os_compute_api:os-shelve:shelve_offload"
UNSHELVE = "os_compute_api:os-shelve:unshelve"
FORCE_DELETE = "os_compute_api:os-deferred-delete:force"
RESTORE = "os_compute_api:os-deferred-delete:restore"
RESET_STATE = "os_compute_api:os-admin-actions:reset_state"
CHANGE_PASSWORD = "os_compute_api:os-admin-password"
CONSOLE_OUTPUT = "os_compute_api:os-console-output"
SERVER_PASSWORD_SHOW = "os_compute_api:os-server-password:show"
SERVER_PASSWORD_CLEAR = "os_compute_api:os-server-password:clear"
DIAGNOSTICS = "os_compute_api:os-server-diagnostics"
METADATA_INDEX = "os_compute_api:server-metadata:index"
METADATA_SHOW = "os_compute_api:server-metadata:show"
METADATA_CREATE = "os_compute_api:server-metadata:create"
METADATA_UPDATE = "os_compute_api:server-metadata:update"
METADATA_UPDATE_ALL = "os_compute_api:server-metadata:update_all"
METADATA_DELETE = "os_compute_api:server-metadata:delete"
INSTANCE_ACTIONS_LIST = "os_compute_api:os-instance-actions:list"
INSTANCE_ACTIONS_SHOW = "os_compute_api:os-instance-actions:show"
INSTANCE_ACTIONS_EVENTS = "os_compute_api:os-instance-actions:events"

_MEMBER = (
    REBOOT, START, STOP, RESIZE, CONFIRM_RESIZE, REVERT_RESIZE, REBUILD, CREATE_IMAGE, PAUSE, UNPAUSE,
    SUSPEND, RESUME, LOCK, UNLOCK, RESCUE, UNRESCUE, SHELVE, UNSHELVE, FORCE_DELETE, RESTORE,
    CHANGE_PASSWORD, CONSOLE_OUTPUT, SERVER_PASSWORD_CLEAR, METADATA_CREATE, METADATA_UPDATE,
    METADATA_UPDATE_ALL, METADATA_DELETE,
)  # fmt: skip
_READER = (SERVER_PASSWORD_SHOW, METADATA_INDEX, METADATA_SHOW, INSTANCE_ACTIONS_LIST, INSTANCE_ACTIONS_SHOW)
_ADMIN = (SHELVE_OFFLOAD, RESET_STATE, DIAGNOSTICS, INSTANCE_ACTIONS_EVENTS, MIGRATE)

policy.register(
    {
        **dict.fromkeys(_MEMBER, policy.ADMIN_OR_MEMBER),
        **dict.fromkeys(_READER, policy.ADMIN_OR_READER),
        **dict.fromkeys(_ADMIN, policy.ADMIN),
    }
)
