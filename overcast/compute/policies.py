"""Compute API policy rules (Nova's names and defaults: members act in their project, readers look,
admins all).

The compute routers enforce these, except the lock override, which the service layer checks where it
reads who locked the server. Targets carry the server's (or the resource's) ``project_id`` and, for
keypairs, consoles and tags, the ``user_id`` the rule compares.
"""

from __future__ import annotations

from overcast.policy import (
    ADMIN,
    ADMIN_OR_MEMBER,
    ADMIN_OR_OWNER,
    ADMIN_OR_READER,
    ADMIN_OR_SERVICE,
    ANYONE,
    Check,
    DocumentedRule,
    documented,
)

C = "/compute/v2.1"
SERVER = f"{C}/servers/{{server_id}}"
SERVER_ACTION = f"{SERVER}/action"
FLAVOR = f"{C}/flavors/{{flavor_id}}"
EXTRA_SPECS = f"{FLAVOR}/os-extra_specs"
AGGREGATE = f"{C}/os-aggregates/{{aggregate_id}}"
HYPERVISORS = f"{C}/os-hypervisors"
QUOTA_SET = f"{C}/os-quota-sets/{{project_id}}"
QUOTA_CLASS_SET = f"{C}/os-quota-class-sets/{{class_name}}"
SERVER_GROUPS = f"{C}/os-server-groups"
METADATA = f"{SERVER}/metadata"
TAGS = f"{SERVER}/tags"

SERVERS_CREATE = "os_compute_api:servers:create"
SERVERS_CREATE_DESTINATION = "compute:servers:create:requested_destination"
SERVERS_INDEX = "os_compute_api:servers:index"
SERVERS_DETAIL = "os_compute_api:servers:detail"
SERVERS_SHOW = "os_compute_api:servers:show"
SERVERS_UPDATE = "os_compute_api:servers:update"
SERVERS_DELETE = "os_compute_api:servers:delete"
SERVERS_ALL_TENANTS = "os_compute_api:servers:index:get_all_tenants"
EXTENDED_SERVER_ATTRIBUTES = "os_compute_api:os-extended-server-attributes"
SERVERS_HOST_STATUS = "os_compute_api:servers:show:host_status"
SERVER_TAGS_INDEX = "os_compute_api:os-server-tags:index"
SERVER_TAGS_SHOW = "os_compute_api:os-server-tags:show"
SERVER_TAGS_UPDATE = "os_compute_api:os-server-tags:update"
SERVER_TAGS_UPDATE_ALL = "os_compute_api:os-server-tags:update_all"
SERVER_TAGS_DELETE = "os_compute_api:os-server-tags:delete"
SERVER_TAGS_DELETE_ALL = "os_compute_api:os-server-tags:delete_all"
FLAVORS_INDEX = "os_compute_api:flavors:index"
FLAVORS_SHOW = "os_compute_api:flavors:show"
FLAVORS_MANAGE = "os_compute_api:os-flavor-manage"
FLAVORS_UPDATE = "os_compute_api:os-flavor-manage:update"
FLAVOR_EXTRA_SPECS_INDEX = "os_compute_api:os-flavor-extra-specs:index"
FLAVOR_EXTRA_SPECS_SHOW = "os_compute_api:os-flavor-extra-specs:show"
FLAVOR_EXTRA_SPECS_CREATE = "os_compute_api:os-flavor-extra-specs:create"
FLAVOR_EXTRA_SPECS_UPDATE = "os_compute_api:os-flavor-extra-specs:update"
FLAVOR_EXTRA_SPECS_DELETE = "os_compute_api:os-flavor-extra-specs:delete"
FLAVOR_ACCESS_LIST = "os_compute_api:os-flavor-access"
FLAVOR_ACCESS_ADD = "os_compute_api:os-flavor-access:add_tenant_access"
FLAVOR_ACCESS_REMOVE = "os_compute_api:os-flavor-access:remove_tenant_access"
# Overcast's own: the scheduler's dry run for a flavor (why no valid host).
SCHEDULER_EXPLAIN = "os_compute_api:os-scheduler-explain"
KEYPAIRS = "os_compute_api:os-keypairs"
LIMITS = "os_compute_api:limits"
LIMITS_OTHER_PROJECT = "os_compute_api:limits:other_project"
USAGE_LIST = "os_compute_api:os-simple-tenant-usage:list"
USAGE_SHOW = "os_compute_api:os-simple-tenant-usage:show"
ZONES_LIST = "os_compute_api:os-availability-zone:list"
ZONES_DETAIL = "os_compute_api:os-availability-zone:detail"
SERVICES_LIST = "os_compute_api:os-services:list"
SERVICES_UPDATE = "os_compute_api:os-services:update"
SERVICES_DELETE = "os_compute_api:os-services:delete"
REMOTE_CONSOLES = "os_compute_api:os-remote-consoles"
QUOTA_SHOW = "os_compute_api:os-quota-sets:show"
QUOTA_DETAIL = "os_compute_api:os-quota-sets:detail"
QUOTA_DEFAULTS = "os_compute_api:os-quota-sets:defaults"
QUOTA_UPDATE = "os_compute_api:os-quota-sets:update"
QUOTA_DELETE = "os_compute_api:os-quota-sets:delete"
QUOTA_CLASS_SHOW = "os_compute_api:os-quota-class-sets:show"
QUOTA_CLASS_UPDATE = "os_compute_api:os-quota-class-sets:update"
MIGRATIONS_INDEX = "os_compute_api:os-migrations:index"
SERVER_MIGRATIONS_INDEX = "os_compute_api:servers:migrations:index"
SERVER_MIGRATIONS_SHOW = "os_compute_api:servers:migrations:show"
SERVER_MIGRATIONS_DELETE = "os_compute_api:servers:migrations:delete"
AGGREGATE_RULES = {
    action: f"os_compute_api:os-aggregates:{action}"
    for action in (
        "index", "create", "show", "update", "delete", "add_host", "remove_host", "set_metadata", "images"
    )
}
HYPERVISOR_RULES = {
    action: f"os_compute_api:os-hypervisors:{action}"
    for action in ("list", "list-detail", "show", "statistics", "search", "servers", "uptime")
}
SERVER_GROUPS_CREATE = "os_compute_api:os-server-groups:create"
SERVER_GROUPS_INDEX = "os_compute_api:os-server-groups:index"
SERVER_GROUPS_ALL_PROJECTS = "os_compute_api:os-server-groups:index:all_projects"
SERVER_GROUPS_SHOW = "os_compute_api:os-server-groups:show"
SERVER_GROUPS_DELETE = "os_compute_api:os-server-groups:delete"

# Server actions (POST /servers/{id}/action), metadata, instance actions, passwords and diagnostics.
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
UNLOCK_OVERRIDE = "os_compute_api:os-lock-server:unlock:unlock_override"
RESCUE = "os_compute_api:os-rescue"
UNRESCUE = "os_compute_api:os-unrescue"
SHELVE = "os_compute_api:os-shelve:shelve"
SHELVE_OFFLOAD = "os_compute_api:os-shelve:shelve_offload"
UNSHELVE = "os_compute_api:os-shelve:unshelve"
UNSHELVE_TO_HOST = "os_compute_api:os-shelve:unshelve_to_host"
FORCE_DELETE = "os_compute_api:os-deferred-delete:force"
RESTORE = "os_compute_api:os-deferred-delete:restore"
RESET_STATE = "os_compute_api:os-admin-actions:reset_state"
CHANGE_PASSWORD = "os_compute_api:os-admin-password"
MULTINIC_ADD = "os_compute_api:os-multinic:add"
MULTINIC_REMOVE = "os_compute_api:os-multinic:remove"
FLOATING_IPS_ADD = "os_compute_api:os-floating-ips:add"
FLOATING_IPS_REMOVE = "os_compute_api:os-floating-ips:remove"
SECURITY_GROUPS_ADD = "os_compute_api:os-security-groups:add"
SECURITY_GROUPS_REMOVE = "os_compute_api:os-security-groups:remove"
SECURITY_GROUPS_GET = "os_compute_api:os-security-groups:get"
SECURITY_GROUPS_SHOW = "os_compute_api:os-security-groups:show"
SECURITY_GROUPS_CREATE = "os_compute_api:os-security-groups:create"
SECURITY_GROUPS_UPDATE = "os_compute_api:os-security-groups:update"
SECURITY_GROUPS_DELETE = "os_compute_api:os-security-groups:delete"
SECURITY_GROUP_RULES_CREATE = "os_compute_api:os-security-groups:rule:create"
SECURITY_GROUP_RULES_DELETE = "os_compute_api:os-security-groups:rule:delete"
SERVER_SECURITY_GROUPS_LIST = "os_compute_api:os-security-groups:list"
IMAGES_PROXY = "os_compute_api:image-metadata"
EXTERNAL_EVENTS = "os_compute_api:os-server-external-events:create"
CREATE_BACKUP = "os_compute_api:os-create-backup"
TRIGGER_CRASH_DUMP = "os_compute_api:servers:trigger_crash_dump"
NETWORKS_LIST = "os_compute_api:os-networks:list"
NETWORKS_SHOW = "os_compute_api:os-networks:view"
FLOATING_IP_POOLS = "os_compute_api:os-floating-ip-pools"
EXTENSIONS = "os_compute_api:extensions"
USAGE_AUDIT_LIST = "os_compute_api:os-instance-usage-audit-log:list"
USAGE_AUDIT_SHOW = "os_compute_api:os-instance-usage-audit-log:show"
HOSTS_LIST = "os_compute_api:os-hosts:list"
HOSTS_SHOW = "os_compute_api:os-hosts:show"
HOSTS_UPDATE = "os_compute_api:os-hosts:update"
HOSTS_POWER = {action: f"os_compute_api:os-hosts:{action}" for action in ("reboot", "shutdown", "startup")}
INTERFACES_LIST = "os_compute_api:os-attach-interfaces:list"
VIRTUAL_INTERFACES = "os_compute_api:os-virtual-interfaces"
INTERFACES_SHOW = "os_compute_api:os-attach-interfaces:show"
INTERFACES_CREATE = "os_compute_api:os-attach-interfaces:create"
INTERFACES_DELETE = "os_compute_api:os-attach-interfaces:delete"
VOLUME_ATTACHMENTS_LIST = "os_compute_api:os-volumes-attachments:index"
VOLUME_ATTACHMENTS_SHOW = "os_compute_api:os-volumes-attachments:show"
VOLUME_ATTACHMENTS_CREATE = "os_compute_api:os-volumes-attachments:create"
VOLUME_ATTACHMENTS_UPDATE = "os_compute_api:os-volumes-attachments:update"
VOLUME_ATTACHMENTS_SWAP = "os_compute_api:os-volumes-attachments:swap"
VOLUME_ATTACHMENTS_DELETE = "os_compute_api:os-volumes-attachments:delete"
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
SERVER_TOPOLOGY = "compute:server:topology:index"
SERVER_TOPOLOGY_HOST = "compute:server:topology:host:index"


def _action(name: str, check: Check, action: str, description: str) -> DocumentedRule:
    return documented(name, check, f"{description} (the {action} server action).", ("POST", SERVER_ACTION))


RULES: tuple[DocumentedRule, ...] = (
    documented(SERVERS_CREATE, ADMIN_OR_MEMBER, "Create servers in one's project.", ("POST", f"{C}/servers")),
    documented(
        SERVERS_CREATE_DESTINATION,
        ADMIN,
        "Name the host or hypervisor a new server is built on (2.74).",
        ("POST", f"{C}/servers"),
    ),
    documented(SERVERS_INDEX, ADMIN_OR_READER, "List the project's servers.", ("GET", f"{C}/servers")),
    documented(
        SERVERS_DETAIL,
        ADMIN_OR_READER,
        "List the project's servers in detail.",
        ("GET", f"{C}/servers/detail"),
    ),
    documented(SERVERS_SHOW, ADMIN_OR_READER, "Show a server.", ("GET", SERVER)),
    documented(
        SERVERS_UPDATE, ADMIN_OR_MEMBER, "Rename a server or change its access addresses.", ("PUT", SERVER)
    ),
    documented(SERVERS_DELETE, ADMIN_OR_MEMBER, "Delete a server.", ("DELETE", SERVER)),
    documented(
        SERVERS_ALL_TENANTS,
        ADMIN,
        "List every project's servers (all_tenants).",
        ("GET", f"{C}/servers"),
        ("GET", f"{C}/servers/detail"),
    ),
    documented(
        EXTENDED_SERVER_ATTRIBUTES,
        ADMIN,
        "See a server's host, instance name and other OS-EXT-SRV-ATTR fields.",
        ("GET", f"{C}/servers/detail"),
        ("GET", SERVER),
        ("PUT", SERVER),
    ),
    documented(
        SERVERS_HOST_STATUS,
        ADMIN,
        "See the host_status of a server (2.16).",
        ("GET", f"{C}/servers/detail"),
        ("GET", SERVER),
        ("PUT", SERVER),
    ),
    documented(SERVER_TAGS_INDEX, ADMIN_OR_READER, "List a server's tags.", ("GET", TAGS)),
    documented(SERVER_TAGS_SHOW, ADMIN_OR_READER, "Check a server's tag.", ("GET", f"{TAGS}/{{tag}}")),
    documented(SERVER_TAGS_UPDATE, ADMIN_OR_MEMBER, "Add a tag to a server.", ("PUT", f"{TAGS}/{{tag}}")),
    documented(SERVER_TAGS_UPDATE_ALL, ADMIN_OR_MEMBER, "Replace a server's tags.", ("PUT", TAGS)),
    documented(
        SERVER_TAGS_DELETE, ADMIN_OR_MEMBER, "Remove a tag from a server.", ("DELETE", f"{TAGS}/{{tag}}")
    ),
    documented(SERVER_TAGS_DELETE_ALL, ADMIN_OR_MEMBER, "Remove all of a server's tags.", ("DELETE", TAGS)),
    documented(
        FLAVORS_INDEX, ANYONE, "List flavors.", ("GET", f"{C}/flavors"), ("GET", f"{C}/flavors/detail")
    ),
    documented(FLAVORS_SHOW, ANYONE, "Show a flavor.", ("GET", FLAVOR)),
    documented(
        FLAVORS_MANAGE, ADMIN, "Create or delete a flavor.", ("POST", f"{C}/flavors"), ("DELETE", FLAVOR)
    ),
    documented(FLAVORS_UPDATE, ADMIN, "Change a flavor's description (2.55).", ("PUT", FLAVOR)),
    documented(
        FLAVOR_EXTRA_SPECS_INDEX,
        ANYONE,
        "List a flavor's extra specs, and see them in flavor and server bodies.",
        ("GET", EXTRA_SPECS),
        ("GET", f"{C}/flavors"),
        ("GET", f"{C}/flavors/detail"),
        ("GET", FLAVOR),
        ("GET", f"{C}/servers/detail"),
        ("GET", SERVER),
    ),
    documented(FLAVOR_EXTRA_SPECS_SHOW, ANYONE, "Show one extra spec.", ("GET", f"{EXTRA_SPECS}/{{key}}")),
    documented(FLAVOR_EXTRA_SPECS_CREATE, ADMIN, "Add extra specs to a flavor.", ("POST", EXTRA_SPECS)),
    documented(FLAVOR_EXTRA_SPECS_UPDATE, ADMIN, "Change an extra spec.", ("PUT", f"{EXTRA_SPECS}/{{key}}")),
    documented(
        FLAVOR_EXTRA_SPECS_DELETE, ADMIN, "Delete an extra spec.", ("DELETE", f"{EXTRA_SPECS}/{{key}}")
    ),
    documented(
        SCHEDULER_EXPLAIN,
        ADMIN,
        "Ask the scheduler, without booting, which hosts a flavor would get or why none is valid.",
        ("GET", f"{FLAVOR}/os-scheduler-explain"),
    ),
    documented(
        FLAVOR_ACCESS_LIST,
        ADMIN,
        "List the projects a private flavor is shared with.",
        ("GET", f"{FLAVOR}/os-flavor-access"),
    ),
    documented(
        FLAVOR_ACCESS_ADD,
        ADMIN,
        "Share a private flavor with a project (the addTenantAccess action).",
        ("POST", f"{FLAVOR}/action"),
    ),
    documented(
        FLAVOR_ACCESS_REMOVE,
        ADMIN,
        "Stop sharing a flavor with a project (the removeTenantAccess action).",
        ("POST", f"{FLAVOR}/action"),
    ),
    documented(
        KEYPAIRS,
        ADMIN_OR_OWNER,
        "List, show, create or delete one's keypairs (an admin names any user's).",
        ("GET", f"{C}/os-keypairs"),
        ("GET", f"{C}/os-keypairs/{{name}}"),
        ("POST", f"{C}/os-keypairs"),
        ("DELETE", f"{C}/os-keypairs/{{name}}"),
    ),
    documented(LIMITS, ANYONE, "Show one's project's limits and usage.", ("GET", f"{C}/limits")),
    documented(
        LIMITS_OTHER_PROJECT, ADMIN, "Show another project's limits (tenant_id).", ("GET", f"{C}/limits")
    ),
    documented(
        USAGE_LIST, ADMIN, "Every project's usage over a period.", ("GET", f"{C}/os-simple-tenant-usage")
    ),
    documented(
        USAGE_SHOW,
        ADMIN_OR_READER,
        "A project's usage over a period.",
        ("GET", f"{C}/os-simple-tenant-usage/{{tenant_id}}"),
        ("GET", f"{C}/os-simple-tenant-usage/"),
    ),
    documented(ZONES_LIST, ANYONE, "List availability zones.", ("GET", f"{C}/os-availability-zone")),
    documented(
        ZONES_DETAIL,
        ADMIN,
        "List availability zones with their hosts and services.",
        ("GET", f"{C}/os-availability-zone/detail"),
    ),
    documented(SERVICES_LIST, ADMIN, "List compute services.", ("GET", f"{C}/os-services")),
    documented(
        SERVICES_UPDATE,
        ADMIN,
        "Enable, disable or force down a service.",
        ("PUT", f"{C}/os-services/{{action}}"),
    ),
    documented(SERVICES_DELETE, ADMIN, "Delete a service.", ("DELETE", f"{C}/os-services/{{service_id}}")),
    documented(
        REMOTE_CONSOLES,
        ADMIN_OR_MEMBER,
        "Open a server's serial console (also the os-getSerialConsole action).",
        ("POST", f"{SERVER}/remote-consoles"),
        ("POST", SERVER_ACTION),
    ),
    documented(QUOTA_SHOW, ADMIN_OR_READER, "Show a project's quotas.", ("GET", QUOTA_SET)),
    documented(
        QUOTA_DETAIL, ADMIN_OR_READER, "Show a project's quotas and usage.", ("GET", f"{QUOTA_SET}/detail")
    ),
    documented(QUOTA_DEFAULTS, ANYONE, "Show the default quotas.", ("GET", f"{QUOTA_SET}/defaults")),
    documented(QUOTA_UPDATE, ADMIN, "Change a project's quotas.", ("PUT", QUOTA_SET)),
    documented(QUOTA_DELETE, ADMIN, "Reset a project's quotas to the defaults.", ("DELETE", QUOTA_SET)),
    documented(QUOTA_CLASS_SHOW, ADMIN, "Show a quota class.", ("GET", QUOTA_CLASS_SET)),
    documented(QUOTA_CLASS_UPDATE, ADMIN, "Change a quota class.", ("PUT", QUOTA_CLASS_SET)),
    documented(MIGRATIONS_INDEX, ADMIN, "List cold moves (os-migrations).", ("GET", f"{C}/os-migrations")),
    documented(
        SERVER_MIGRATIONS_INDEX, ADMIN, "List a server's live migrations.", ("GET", f"{SERVER}/migrations")
    ),
    documented(
        SERVER_MIGRATIONS_SHOW,
        ADMIN,
        "Show a server's live migration.",
        ("GET", f"{SERVER}/migrations/{{migration_id}}"),
    ),
    documented(
        SERVER_MIGRATIONS_DELETE,
        ADMIN,
        "Abort a server's live migration (2.24; 2.65 while queued or preparing too).",
        ("DELETE", f"{SERVER}/migrations/{{migration_id}}"),
    ),
    documented(AGGREGATE_RULES["index"], ADMIN, "List host aggregates.", ("GET", f"{C}/os-aggregates")),
    documented(AGGREGATE_RULES["create"], ADMIN, "Create a host aggregate.", ("POST", f"{C}/os-aggregates")),
    documented(AGGREGATE_RULES["show"], ADMIN, "Show a host aggregate.", ("GET", AGGREGATE)),
    documented(
        AGGREGATE_RULES["update"], ADMIN, "Rename a host aggregate or change its zone.", ("PUT", AGGREGATE)
    ),
    documented(AGGREGATE_RULES["delete"], ADMIN, "Delete a host aggregate.", ("DELETE", AGGREGATE)),
    documented(
        AGGREGATE_RULES["add_host"],
        ADMIN,
        "Add a host to an aggregate (the add_host action).",
        ("POST", f"{AGGREGATE}/action"),
    ),
    documented(
        AGGREGATE_RULES["remove_host"],
        ADMIN,
        "Remove a host from an aggregate (the remove_host action).",
        ("POST", f"{AGGREGATE}/action"),
    ),
    documented(
        AGGREGATE_RULES["images"],
        ADMIN,
        "Pre-cache images on an aggregate's compute hosts (2.81).",
        ("POST", f"{AGGREGATE}/images"),
    ),
    documented(
        AGGREGATE_RULES["set_metadata"],
        ADMIN,
        "Set an aggregate's metadata (the set_metadata action).",
        ("POST", f"{AGGREGATE}/action"),
    ),
    documented(HYPERVISOR_RULES["list"], ADMIN, "List hypervisors.", ("GET", HYPERVISORS)),
    documented(
        HYPERVISOR_RULES["list-detail"],
        ADMIN,
        "List hypervisors in detail.",
        ("GET", f"{HYPERVISORS}/detail"),
    ),
    documented(
        HYPERVISOR_RULES["show"], ADMIN, "Show a hypervisor.", ("GET", f"{HYPERVISORS}/{{hypervisor_id}}")
    ),
    documented(
        HYPERVISOR_RULES["statistics"],
        ADMIN,
        "Sum every hypervisor's resources.",
        ("GET", f"{HYPERVISORS}/statistics"),
    ),
    documented(
        HYPERVISOR_RULES["search"],
        ADMIN,
        "Find hypervisors by host name.",
        ("GET", f"{HYPERVISORS}/{{pattern}}/search"),
    ),
    documented(
        HYPERVISOR_RULES["servers"],
        ADMIN,
        "List the servers on matching hypervisors.",
        ("GET", f"{HYPERVISORS}/{{pattern}}/servers"),
    ),
    documented(
        HYPERVISOR_RULES["uptime"],
        ADMIN,
        "Show a hypervisor's uptime.",
        ("GET", f"{HYPERVISORS}/{{hypervisor_id}}/uptime"),
    ),
    documented(SERVER_GROUPS_CREATE, ADMIN_OR_MEMBER, "Create a server group.", ("POST", SERVER_GROUPS)),
    documented(
        SERVER_GROUPS_INDEX, ADMIN_OR_READER, "List the project's server groups.", ("GET", SERVER_GROUPS)
    ),
    documented(
        SERVER_GROUPS_ALL_PROJECTS,
        ADMIN,
        "List every project's server groups (all_projects).",
        ("GET", SERVER_GROUPS),
    ),
    documented(
        SERVER_GROUPS_SHOW, ADMIN_OR_READER, "Show a server group.", ("GET", f"{SERVER_GROUPS}/{{group_id}}")
    ),
    documented(
        SERVER_GROUPS_DELETE,
        ADMIN_OR_MEMBER,
        "Delete a server group.",
        ("DELETE", f"{SERVER_GROUPS}/{{group_id}}"),
    ),
    _action(REBOOT, ADMIN_OR_MEMBER, "reboot", "Reboot a server"),
    _action(START, ADMIN_OR_MEMBER, "os-start", "Start a stopped server"),
    _action(STOP, ADMIN_OR_MEMBER, "os-stop", "Stop a server"),
    _action(RESIZE, ADMIN_OR_MEMBER, "resize", "Resize a server to another flavor"),
    _action(CONFIRM_RESIZE, ADMIN_OR_MEMBER, "confirmResize", "Confirm a resize or migration"),
    _action(REVERT_RESIZE, ADMIN_OR_MEMBER, "revertResize", "Revert a resize or migration"),
    _action(REBUILD, ADMIN_OR_MEMBER, "rebuild", "Rebuild a server from an image"),
    _action(MIGRATE, ADMIN, "migrate", "Cold-migrate a server to another host"),
    _action(CREATE_IMAGE, ADMIN_OR_MEMBER, "createImage", "Snapshot a server into an image"),
    _action(PAUSE, ADMIN_OR_MEMBER, "pause", "Pause a server"),
    _action(UNPAUSE, ADMIN_OR_MEMBER, "unpause", "Unpause a server"),
    _action(SUSPEND, ADMIN_OR_MEMBER, "suspend", "Suspend a server"),
    _action(RESUME, ADMIN_OR_MEMBER, "resume", "Resume a suspended server"),
    _action(LOCK, ADMIN_OR_MEMBER, "lock", "Lock a server"),
    _action(UNLOCK, ADMIN_OR_MEMBER, "unlock", "Unlock a server one's project locked"),
    _action(
        UNLOCK_OVERRIDE, ADMIN, "unlock",
        "Unlock a server an admin locked (checked by compute/api/actions.py)",
    ),
    _action(RESCUE, ADMIN_OR_MEMBER, "rescue", "Boot a server from a rescue image"),
    _action(UNRESCUE, ADMIN_OR_MEMBER, "unrescue", "Leave rescue"),
    _action(SHELVE, ADMIN_OR_MEMBER, "shelve", "Shelve a server"),
    _action(SHELVE_OFFLOAD, ADMIN, "shelveOffload", "Offload a shelved server from its host"),
    _action(UNSHELVE, ADMIN_OR_MEMBER, "unshelve", "Unshelve a server"),
    _action(UNSHELVE_TO_HOST, ADMIN, "unshelve", "Unshelve an offloaded server onto a named host (2.91)"),
    _action(FORCE_DELETE, ADMIN_OR_MEMBER, "forceDelete", "Delete a soft-deleted server now"),
    _action(RESTORE, ADMIN_OR_MEMBER, "restore", "Restore a soft-deleted server"),
    _action(RESET_STATE, ADMIN, "os-resetState", "Reset a server's state to active or error"),
    _action(CHANGE_PASSWORD, ADMIN_OR_MEMBER, "changePassword", "Change a server's admin password"),
    _action(MULTINIC_ADD, ADMIN_OR_MEMBER, "addFixedIp", "Add a fixed IP on a network to a server (to 2.43)"),
    _action(MULTINIC_REMOVE, ADMIN_OR_MEMBER, "removeFixedIp", "Remove a fixed IP from a server (to 2.43)"),
    _action(
        FLOATING_IPS_ADD, ADMIN_OR_MEMBER, "addFloatingIp", "Associate a floating IP with a server (to 2.43)"
    ),
    _action(
        FLOATING_IPS_REMOVE,
        ADMIN_OR_MEMBER,
        "removeFloatingIp",
        "Disassociate a floating IP from a server (up to 2.43)",
    ),
    _action(
        SECURITY_GROUPS_ADD, ADMIN_OR_MEMBER, "addSecurityGroup", "Add a security group to a server's ports"
    ),
    _action(
        SECURITY_GROUPS_REMOVE,
        ADMIN_OR_MEMBER,
        "removeSecurityGroup",
        "Remove a security group from a server's ports",
    ),
    _action(CONSOLE_OUTPUT, ADMIN_OR_MEMBER, "os-getConsoleOutput", "Read a server's console log"),
    _action(CREATE_BACKUP, ADMIN_OR_MEMBER, "createBackup", "Back a server up into a rotated image"),
    _action(TRIGGER_CRASH_DUMP, ADMIN_OR_MEMBER, "trigger_crash_dump", "Send a server's guest an NMI (2.17)"),
    documented(
        SECURITY_GROUPS_GET, ADMIN_OR_READER, "List security groups (proxy, up to 2.35).",
        ("GET", f"{C}/os-security-groups"),
    ),
    documented(
        SECURITY_GROUPS_SHOW, ADMIN_OR_READER, "Show a security group (proxy, up to 2.35).",
        ("GET", f"{C}/os-security-groups/{{group_id}}"),
    ),
    documented(
        SECURITY_GROUPS_CREATE, ADMIN_OR_MEMBER, "Create a security group (proxy, up to 2.35).",
        ("POST", f"{C}/os-security-groups"),
    ),
    documented(
        SECURITY_GROUPS_UPDATE, ADMIN_OR_MEMBER, "Update a security group (proxy, up to 2.35).",
        ("PUT", f"{C}/os-security-groups/{{group_id}}"),
    ),
    documented(
        SECURITY_GROUPS_DELETE, ADMIN_OR_MEMBER, "Delete a security group (proxy, up to 2.35).",
        ("DELETE", f"{C}/os-security-groups/{{group_id}}"),
    ),
    documented(
        SECURITY_GROUP_RULES_CREATE, ADMIN_OR_MEMBER, "Create a security group rule (proxy, up to 2.35).",
        ("POST", f"{C}/os-security-group-rules"),
    ),
    documented(
        SECURITY_GROUP_RULES_DELETE, ADMIN_OR_MEMBER, "Delete a security group rule (proxy, up to 2.35).",
        ("DELETE", f"{C}/os-security-group-rules/{{rule_id}}"),
    ),
    documented(
        IMAGES_PROXY, ADMIN_OR_READER, "The compute image proxy and image metadata (up to 2.35).",
        ("GET", f"{C}/images"), ("GET", f"{C}/images/detail"), ("GET", f"{C}/images/{{image_id}}"),
        ("DELETE", f"{C}/images/{{image_id}}"), ("GET", f"{C}/images/{{image_id}}/metadata"),
        ("POST", f"{C}/images/{{image_id}}/metadata"), ("PUT", f"{C}/images/{{image_id}}/metadata"),
        ("GET", f"{C}/images/{{image_id}}/metadata/{{key}}"),
        ("PUT", f"{C}/images/{{image_id}}/metadata/{{key}}"),
        ("DELETE", f"{C}/images/{{image_id}}/metadata/{{key}}"),
    ),
    documented(
        EXTERNAL_EVENTS, ADMIN_OR_SERVICE, "Tell servers of external events (network, volume, power).",
        ("POST", f"{C}/os-server-external-events"),
    ),
    documented(
        NETWORKS_LIST, ADMIN_OR_READER, "List networks (proxy, up to 2.35).", ("GET", f"{C}/os-networks"),
    ),
    documented(
        NETWORKS_SHOW, ADMIN_OR_READER, "Show a network (proxy, up to 2.35).",
        ("GET", f"{C}/os-networks/{{network_id}}"),
    ),
    documented(
        FLOATING_IP_POOLS, ANYONE, "List the floating IP pools (proxy, up to 2.35).",
        ("GET", f"{C}/os-floating-ip-pools"),
    ),
    documented(
        EXTENSIONS, ANYONE, "List the API extensions.",
        ("GET", f"{C}/extensions"), ("GET", f"{C}/extensions/{{alias}}"),
    ),
    documented(HOSTS_LIST, ADMIN, "List hosts (up to 2.42).", ("GET", f"{C}/os-hosts")),
    documented(
        HOSTS_SHOW, ADMIN, "Show a host's resources (up to 2.42).", ("GET", f"{C}/os-hosts/{{host_name}}")
    ),
    documented(
        HOSTS_UPDATE, ADMIN, "Enable or disable a host (up to 2.42).", ("PUT", f"{C}/os-hosts/{{host_name}}")
    ),
    *(
        documented(rule, ADMIN, f"Host {action} (up to 2.42; 501: no driver here can).",
                   ("GET", f"{C}/os-hosts/{{host_name}}/{{action}}"))
        for action, rule in HOSTS_POWER.items()
    ),
    documented(
        USAGE_AUDIT_LIST, ADMIN, "Show the last instance usage audit.",
        ("GET", f"{C}/os-instance_usage_audit_log"),
    ),
    documented(
        USAGE_AUDIT_SHOW, ADMIN, "Show the instance usage audit before a time.",
        ("GET", f"{C}/os-instance_usage_audit_log/{{before_timestamp}}"),
    ),
    documented(
        SERVER_SECURITY_GROUPS_LIST, ADMIN_OR_READER, "List the security groups of a server's ports.",
        ("GET", f"{SERVER}/os-security-groups"),
    ),
    documented(
        INTERFACES_LIST,
        ADMIN_OR_READER,
        "List a server's network interfaces (ports).",
        ("GET", f"{SERVER}/os-interface"),
    ),
    documented(
        VIRTUAL_INTERFACES,
        ADMIN_OR_READER,
        "List a server's virtual interfaces (its ports; up to 2.43).",
        ("GET", f"{SERVER}/os-virtual-interfaces"),
    ),
    documented(
        INTERFACES_SHOW,
        ADMIN_OR_READER,
        "Show one of a server's network interfaces.",
        ("GET", f"{SERVER}/os-interface/{{port_id}}"),
    ),
    documented(
        INTERFACES_CREATE,
        ADMIN_OR_MEMBER,
        "Attach a network interface (a new or given port) to a server.",
        ("POST", f"{SERVER}/os-interface"),
    ),
    documented(
        INTERFACES_DELETE,
        ADMIN_OR_MEMBER,
        "Detach a network interface from a server.",
        ("DELETE", f"{SERVER}/os-interface/{{port_id}}"),
    ),
    documented(
        VOLUME_ATTACHMENTS_LIST,
        ADMIN_OR_READER,
        "List the volumes attached to a server.",
        ("GET", f"{SERVER}/os-volume_attachments"),
    ),
    documented(
        VOLUME_ATTACHMENTS_SHOW,
        ADMIN_OR_READER,
        "Show one volume attachment of a server.",
        ("GET", f"{SERVER}/os-volume_attachments/{{volume_id}}"),
    ),
    documented(
        VOLUME_ATTACHMENTS_CREATE,
        ADMIN_OR_MEMBER,
        "Attach a volume to a server.",
        ("POST", f"{SERVER}/os-volume_attachments"),
    ),
    documented(
        VOLUME_ATTACHMENTS_UPDATE,
        ADMIN_OR_MEMBER,
        "Change a volume attachment's delete_on_termination (compute API 2.85).",
        ("PUT", f"{SERVER}/os-volume_attachments/{{volume_id}}"),
    ),
    documented(
        VOLUME_ATTACHMENTS_SWAP,
        ADMIN,
        "Swap an attached volume for another one (the data is copied to it).",
        ("PUT", f"{SERVER}/os-volume_attachments/{{volume_id}}"),
    ),
    documented(
        VOLUME_ATTACHMENTS_DELETE,
        ADMIN_OR_MEMBER,
        "Detach a volume from a server.",
        ("DELETE", f"{SERVER}/os-volume_attachments/{{volume_id}}"),
    ),
    documented(
        SERVER_PASSWORD_SHOW,
        ADMIN_OR_READER,
        "Show a server's encrypted password.",
        ("GET", f"{SERVER}/os-server-password"),
    ),
    documented(
        SERVER_PASSWORD_CLEAR,
        ADMIN_OR_MEMBER,
        "Clear a server's encrypted password.",
        ("DELETE", f"{SERVER}/os-server-password"),
    ),
    documented(DIAGNOSTICS, ADMIN, "Show a server's diagnostics.", ("GET", f"{SERVER}/diagnostics")),
    documented(METADATA_INDEX, ADMIN_OR_READER, "List a server's metadata.", ("GET", METADATA)),
    documented(METADATA_SHOW, ADMIN_OR_READER, "Show one metadata item.", ("GET", f"{METADATA}/{{key}}")),
    documented(METADATA_CREATE, ADMIN_OR_MEMBER, "Add or change metadata items.", ("POST", METADATA)),
    documented(METADATA_UPDATE, ADMIN_OR_MEMBER, "Set one metadata item.", ("PUT", f"{METADATA}/{{key}}")),
    documented(METADATA_UPDATE_ALL, ADMIN_OR_MEMBER, "Replace a server's metadata.", ("PUT", METADATA)),
    documented(
        METADATA_DELETE, ADMIN_OR_MEMBER, "Delete one metadata item.", ("DELETE", f"{METADATA}/{{key}}")
    ),
    documented(
        INSTANCE_ACTIONS_LIST,
        ADMIN_OR_READER,
        "List a server's actions.",
        ("GET", f"{SERVER}/os-instance-actions"),
    ),
    documented(
        INSTANCE_ACTIONS_SHOW,
        ADMIN_OR_READER,
        "Show one of a server's actions.",
        ("GET", f"{SERVER}/os-instance-actions/{{request_id}}"),
    ),
    documented(
        INSTANCE_ACTIONS_EVENTS,
        ADMIN,
        "See an action's events before 2.51, and their tracebacks always.",
        ("GET", f"{SERVER}/os-instance-actions/{{request_id}}"),
    ),
    documented(
        SERVER_TOPOLOGY,
        ADMIN_OR_READER,
        "Show a server's NUMA topology (2.78).",
        ("GET", f"{SERVER}/topology"),
    ),
    documented(
        SERVER_TOPOLOGY_HOST,
        ADMIN,
        "See the host's NUMA nodes and CPU pinning in a server's topology (2.78).",
        ("GET", f"{SERVER}/topology"),
    ),
)
