"""Block Storage v3 policy rules (Cinder's names and defaults), enforced by VolumeAPI.

VolumeAPI enforces them, not the routers: compute attaches and creates volumes in-process on a user's
behalf, and those calls meet the same rules. Targets carry {"project_id": ...} of the volume (or of the
project a quota or type access is about). What a caller may see is the lookup's question (404).
"""

from __future__ import annotations

from dataclasses import replace

from overcast.policy import ADMIN, ANYONE, OWN_PROJECT, DocumentedRule, HasRole, Operation, documented

OWNER_MEMBER = ADMIN | ((HasRole("member") | HasRole("admin")) & OWN_PROJECT)
OWNER_READER = ADMIN | OWN_PROJECT

V3 = "/volume/v3/{project_id}"
VOLUMES = f"{V3}/volumes"
VOLUME = f"{VOLUMES}/{{volume_id}}"
VOLUME_ACTION = f"{VOLUME}/action"
TYPES = f"{V3}/types"
TYPE = f"{TYPES}/{{type_id}}"
DEFAULT_TYPES = f"{V3}/default-types"
QOS_SPECS = f"{V3}/qos-specs"
QOS_SPEC = f"{QOS_SPECS}/{{qos_id}}"
ATTACHMENTS = f"{V3}/attachments"
ATTACHMENT = f"{ATTACHMENTS}/{{attachment_id}}"
QUOTAS = f"{V3}/os-quota-sets/{{target_project_id}}"

CREATE = "volume:create"
CREATE_FROM_IMAGE = "volume:create_from_image"
GET = "volume:get"
GET_ALL = "volume:get_all"
UPDATE = "volume:update"
DELETE = "volume:delete"
FORCE_DELETE = "volume:force_delete"
EXTEND = "volume:extend"
EXTEND_ATTACHED = "volume:extend_attached_volume"
RETYPE = "volume:retype"
UPDATE_READONLY = "volume:update_readonly_flag"
UPLOAD_IMAGE = "volume_extension:volume_actions:upload_image"
RESET_STATUS = "volume_extension:volume_admin_actions:reset_status"
FORCE_DETACH = "volume_extension:volume_admin_actions:force_detach"
IMAGE_METADATA_SHOW = "volume_extension:volume_image_metadata:show"
IMAGE_METADATA_SET = "volume_extension:volume_image_metadata:set"
IMAGE_METADATA_REMOVE = "volume_extension:volume_image_metadata:remove"
SET_BOOTABLE = "volume_extension:volume_actions:set_bootable"
ATTACH = "volume_extension:volume_actions:attach"
METADATA_GET = "volume:get_volume_metadata"
METADATA_UPDATE = "volume:update_volume_metadata"
METADATA_DELETE = "volume:delete_volume_metadata"
# Attributes only admins see on a volume (Cinder's attribute extensions).
HOST_ATTRIBUTE = "volume_extension:volume_host_attribute"
MIG_STATUS_ATTRIBUTE = "volume_extension:volume_mig_status_attribute"
PROVIDER_ID_ATTRIBUTE = "volume:get_provider_id"
ALL_TENANTS = "volume:get_all_tenants"

ATTACHMENT_CREATE = "volume:attachment_create"
ATTACHMENT_UPDATE = "volume:attachment_update"
ATTACHMENT_DELETE = "volume:attachment_delete"
ATTACHMENT_COMPLETE = "volume:attachment_complete"
ATTACHMENT_GET = "volume:attachment_get"

TYPE_GET = "volume_extension:type_get"
TYPE_MANAGE = "volume_extension:types_manage"
TYPE_ACCESS = "volume_extension:volume_type_access"
TYPE_ACCESS_MANAGE = "volume_extension:volume_type_access:addProjectAccess"
DEFAULT_TYPE_SET = "volume_extension:default_set_or_update"
DEFAULT_TYPE_GET = "volume_extension:default_get"
DEFAULT_TYPE_GET_ALL = "volume_extension:default_get_all"
DEFAULT_TYPE_UNSET = "volume_extension:default_unset"
QOS_GET = "volume_extension:qos_specs_manage:get"
QOS_MANAGE = "volume_extension:qos_specs_manage:create"

QUOTA_SHOW = "volume_extension:quotas:show"
QUOTA_UPDATE = "volume_extension:quotas:update"
QUOTA_DELETE = "volume_extension:quotas:delete"
LIMITS = "volume_extension:limits_extension:used_limits"
SERVICES = "volume_extension:services:index"
AVAILABILITY_ZONES = "volume_extension:availability_zone_list"
# Cinder checks no rule on these two listings; Overcast names one so every route has its rule.
EXTENSIONS = "volume_extension:extensions:index"
RESOURCE_FILTERS = "volume:resource_filters"
CAPABILITIES = "volume_extension:capabilities"

RULES: tuple[DocumentedRule, ...] = (
    documented(CREATE, OWNER_MEMBER, "Create a volume.", ("POST", VOLUMES)),
    documented(CREATE_FROM_IMAGE, OWNER_MEMBER, "Create a volume from an image.", ("POST", VOLUMES)),
    documented(GET, OWNER_READER, "Show a volume.", ("GET", VOLUME)),
    documented(
        GET_ALL,
        ANYONE,
        "List the volumes one may see, and their summary (3.12).",
        ("GET", VOLUMES),
        ("GET", f"{VOLUMES}/detail"),
        ("GET", f"{VOLUMES}/summary"),
    ),
    documented(ALL_TENANTS, ADMIN, "List every project's volumes (all_tenants).", ("GET", VOLUMES)),
    documented(UPDATE, OWNER_MEMBER, "Update a volume's name, description or metadata.", ("PUT", VOLUME)),
    documented(DELETE, OWNER_MEMBER, "Delete a volume.", ("DELETE", VOLUME)),
    documented(
        FORCE_DELETE, ADMIN, "Delete a volume whatever its status (os-force_delete).", ("POST", VOLUME_ACTION)
    ),
    documented(EXTEND, OWNER_MEMBER, "Extend a volume (os-extend).", ("POST", VOLUME_ACTION)),
    documented(EXTEND_ATTACHED, OWNER_MEMBER, "Extend an attached volume (3.42).", ("POST", VOLUME_ACTION)),
    documented(RETYPE, OWNER_MEMBER, "Change a volume's type (os-retype).", ("POST", VOLUME_ACTION)),
    documented(UPDATE_READONLY, OWNER_MEMBER, "Set a volume's readonly flag.", ("POST", VOLUME_ACTION)),
    documented(UPLOAD_IMAGE, OWNER_MEMBER, "Upload a volume to an image.", ("POST", VOLUME_ACTION)),
    documented(RESET_STATUS, ADMIN, "Reset a volume's statuses (os-reset_status).", ("POST", VOLUME_ACTION)),
    documented(
        FORCE_DETACH,
        ADMIN,
        "End a volume's attachments whatever the compute host did.",
        ("POST", VOLUME_ACTION),
    ),
    documented(SET_BOOTABLE, OWNER_MEMBER, "Set a volume's bootable flag.", ("POST", VOLUME_ACTION)),
    documented(
        IMAGE_METADATA_SHOW,
        OWNER_READER,
        "Show a volume's image metadata (os-show_image_metadata).",
        ("POST", VOLUME_ACTION),
    ),
    documented(
        IMAGE_METADATA_SET,
        OWNER_MEMBER,
        "Set a volume's image metadata (os-set_image_metadata).",
        ("POST", VOLUME_ACTION),
    ),
    documented(
        IMAGE_METADATA_REMOVE,
        OWNER_MEMBER,
        "Remove a key of a volume's image metadata (os-unset_image_metadata).",
        ("POST", VOLUME_ACTION),
    ),
    documented(
        ATTACH,
        OWNER_MEMBER,
        "The legacy attach and detach actions (os-reserve, os-attach, ...).",
        ("POST", VOLUME_ACTION),
    ),
    documented(
        METADATA_GET,
        OWNER_READER,
        "Read a volume's metadata.",
        ("GET", f"{VOLUME}/metadata"),
        ("GET", f"{VOLUME}/metadata/{{key}}"),
    ),
    documented(
        METADATA_UPDATE,
        OWNER_MEMBER,
        "Set (merge or replace) a volume's metadata or one key of it.",
        ("POST", f"{VOLUME}/metadata"),
        ("PUT", f"{VOLUME}/metadata"),
        ("PUT", f"{VOLUME}/metadata/{{key}}"),
    ),
    documented(
        METADATA_DELETE,
        OWNER_MEMBER,
        "Delete a volume's metadata key.",
        ("DELETE", f"{VOLUME}/metadata/{{key}}"),
    ),
    documented(HOST_ATTRIBUTE, ADMIN, "See os-vol-host-attr:host.", ("GET", VOLUME)),
    documented(
        MIG_STATUS_ATTRIBUTE, ADMIN, "See migration_status and os-vol-mig-status-attr.", ("GET", VOLUME)
    ),
    documented(PROVIDER_ID_ATTRIBUTE, ADMIN, "See provider_id (3.21).", ("GET", VOLUME)),
    documented(ATTACHMENT_CREATE, OWNER_MEMBER, "Reserve a volume for a server.", ("POST", ATTACHMENTS)),
    documented(ATTACHMENT_UPDATE, OWNER_MEMBER, "Connect an attachment.", ("PUT", ATTACHMENT)),
    documented(
        ATTACHMENT_COMPLETE,
        OWNER_MEMBER,
        "Mark an attachment attached (3.44).",
        ("POST", f"{ATTACHMENT}/action"),
    ),
    documented(ATTACHMENT_DELETE, OWNER_MEMBER, "Detach.", ("DELETE", ATTACHMENT)),
    documented(
        ATTACHMENT_GET,
        OWNER_READER,
        "Show or list attachments.",
        ("GET", ATTACHMENTS),
        ("GET", f"{ATTACHMENTS}/detail"),
        ("GET", ATTACHMENT),
    ),
    documented(
        TYPE_GET,
        ANYONE,
        "List and show the volume types one may use, the default type and their extra specs.",
        ("GET", TYPES),
        ("GET", TYPE),
        ("GET", f"{TYPES}/default"),
        ("GET", f"{TYPE}/extra_specs"),
        ("GET", f"{TYPE}/extra_specs/{{key}}"),
    ),
    documented(
        TYPE_MANAGE,
        ADMIN,
        "Create, update and delete volume types and their extra specs.",
        ("POST", TYPES),
        ("PUT", TYPE),
        ("DELETE", TYPE),
        ("POST", f"{TYPE}/extra_specs"),
        ("PUT", f"{TYPE}/extra_specs/{{key}}"),
        ("DELETE", f"{TYPE}/extra_specs/{{key}}"),
    ),
    documented(
        DEFAULT_TYPE_SET,
        ADMIN,
        "Set or change a project's default volume type (3.62).",
        ("PUT", f"{DEFAULT_TYPES}/{{target_project_id}}"),
    ),
    documented(
        DEFAULT_TYPE_GET,
        OWNER_READER,
        "Show a project's default volume type (3.62): admins any, a project's members their own.",
        ("GET", f"{DEFAULT_TYPES}/{{target_project_id}}"),
    ),
    documented(
        DEFAULT_TYPE_GET_ALL, ADMIN, "List every project's own default volume type.", ("GET", DEFAULT_TYPES)
    ),
    documented(
        DEFAULT_TYPE_UNSET,
        ADMIN,
        "Unset a project's default volume type (3.62).",
        ("DELETE", f"{DEFAULT_TYPES}/{{target_project_id}}"),
    ),
    documented(
        TYPE_ACCESS, ADMIN, "List the projects of a private type.", ("GET", f"{TYPE}/os-volume-type-access")
    ),
    documented(
        TYPE_ACCESS_MANAGE, ADMIN, "Add or remove a project's access to a type.", ("POST", f"{TYPE}/action")
    ),
    documented(
        QOS_GET,
        ADMIN,
        "List and show QoS specs and associations.",
        ("GET", QOS_SPECS),
        ("GET", QOS_SPEC),
        ("GET", f"{QOS_SPEC}/associations"),
    ),
    documented(
        QOS_MANAGE,
        ADMIN,
        "Create, update, associate and delete QoS specs.",
        ("POST", QOS_SPECS),
        ("PUT", QOS_SPEC),
        ("PUT", f"{QOS_SPEC}/delete_keys"),
        ("DELETE", QOS_SPEC),
        ("GET", f"{QOS_SPEC}/associate"),
        ("GET", f"{QOS_SPEC}/disassociate"),
        ("GET", f"{QOS_SPEC}/disassociate_all"),
    ),
    documented(
        QUOTA_SHOW,
        OWNER_READER,
        "Show a project's volume quotas.",
        ("GET", QUOTAS),
        ("GET", f"{QUOTAS}/defaults"),
    ),
    documented(QUOTA_UPDATE, ADMIN, "Set a project's volume quotas.", ("PUT", QUOTAS)),
    documented(QUOTA_DELETE, ADMIN, "Reset a project's volume quotas.", ("DELETE", QUOTAS)),
    documented(LIMITS, ANYONE, "Show one's own project's absolute limits.", ("GET", f"{V3}/limits")),
    documented(SERVICES, ADMIN, "List the volume services.", ("GET", f"{V3}/os-services")),
    documented(
        AVAILABILITY_ZONES,
        ANYONE,
        "List the volume availability zones.",
        ("GET", f"{V3}/os-availability-zone"),
    ),
    documented(EXTENSIONS, ANYONE, "List the API extensions this cloud serves.", ("GET", f"{V3}/extensions")),
    documented(
        RESOURCE_FILTERS,
        ANYONE,
        "List the filters each resource's list honours (3.33).",
        ("GET", f"{V3}/resource_filters"),
    ),
    documented(
        CAPABILITIES,
        ADMIN,
        "Show what a volume host's backend says of itself.",
        ("GET", f"{V3}/capabilities/{{hostname}}"),
    ),
)

# --- snapshots, backups, transfers (V4's block) ---------------------------------------------------------
SNAPSHOTS = f"{V3}/snapshots"
SNAPSHOT = f"{SNAPSHOTS}/{{snapshot_id}}"
BACKUPS = f"{V3}/backups"
BACKUP = f"{BACKUPS}/{{backup_id}}"
LEGACY_TRANSFERS = f"{V3}/os-volume-transfer"
TRANSFERS = f"{V3}/volume-transfers"

SNAPSHOT_CREATE = "volume:create_snapshot"
SNAPSHOT_GET = "volume:get_snapshot"
SNAPSHOT_GET_ALL = "volume:get_all_snapshots"
SNAPSHOT_ALL_TENANTS = "volume:get_all_snapshots:all_tenants"
SNAPSHOT_UPDATE = "volume:update_snapshot"
SNAPSHOT_DELETE = "volume:delete_snapshot"
SNAPSHOT_FORCE_DELETE = "volume_extension:snapshot_admin_actions:force_delete"
SNAPSHOT_RESET_STATUS = "volume_extension:snapshot_admin_actions:reset_status"
REVERT = "volume:revert_to_snapshot"
REIMAGE = "volume:reimage"
REIMAGE_RESERVED = "volume:reimage_reserved"
BACKUP_CREATE = "backup:create"
BACKUP_GET = "backup:get"
BACKUP_GET_ALL = "backup:get_all"
BACKUP_ALL_TENANTS = "backup:get_all:all_tenants"
BACKUP_UPDATE = "backup:update"
BACKUP_DELETE = "backup:delete"
BACKUP_RESTORE = "backup:restore"
BACKUP_FORCE_DELETE = "volume_extension:backup_admin_actions:force_delete"
BACKUP_RESET_STATUS = "volume_extension:backup_admin_actions:reset_status"
BACKUP_PROJECT_ATTRIBUTE = "backup:backup_project_attribute"
TRANSFER_CREATE = "volume:create_transfer"
TRANSFER_GET = "volume:get_transfer"
TRANSFER_GET_ALL = "volume:get_all_transfers"
TRANSFER_ACCEPT = "volume:accept_transfer"
TRANSFER_DELETE = "volume:delete_transfer"


def _both_transfer_paths(method: str, suffix: str = "") -> tuple[tuple[str, str], tuple[str, str]]:
    return (method, f"{LEGACY_TRANSFERS}{suffix}"), (method, f"{TRANSFERS}{suffix}")


RULES = (
    *RULES,
    documented(SNAPSHOT_CREATE, OWNER_MEMBER, "Snapshot a volume.", ("POST", SNAPSHOTS)),
    documented(
        SNAPSHOT_GET,
        OWNER_READER,
        "Show a snapshot and its metadata.",
        ("GET", SNAPSHOT),
        ("GET", f"{SNAPSHOT}/metadata"),
        ("GET", f"{SNAPSHOT}/metadata/{{key}}"),
    ),
    documented(
        SNAPSHOT_GET_ALL,
        ANYONE,
        "List the snapshots one may see.",
        ("GET", SNAPSHOTS),
        ("GET", f"{SNAPSHOTS}/detail"),
    ),
    documented(
        SNAPSHOT_ALL_TENANTS, ADMIN, "List every project's snapshots (all_tenants).", ("GET", SNAPSHOTS)
    ),
    documented(
        SNAPSHOT_UPDATE,
        OWNER_MEMBER,
        "Update a snapshot or its metadata.",
        ("PUT", SNAPSHOT),
        ("POST", f"{SNAPSHOT}/metadata"),
        ("PUT", f"{SNAPSHOT}/metadata"),
        ("PUT", f"{SNAPSHOT}/metadata/{{key}}"),
        ("DELETE", f"{SNAPSHOT}/metadata/{{key}}"),
    ),
    documented(SNAPSHOT_DELETE, OWNER_MEMBER, "Delete a snapshot.", ("DELETE", SNAPSHOT)),
    documented(
        SNAPSHOT_FORCE_DELETE, ADMIN, "Delete a snapshot whatever its status.", ("POST", f"{SNAPSHOT}/action")
    ),
    documented(SNAPSHOT_RESET_STATUS, ADMIN, "Reset a snapshot's status.", ("POST", f"{SNAPSHOT}/action")),
    documented(
        REVERT, OWNER_MEMBER, "Revert a volume to its latest snapshot (3.40).", ("POST", VOLUME_ACTION)
    ),
    documented(
        REIMAGE, OWNER_MEMBER, "Write an image over a volume (os-reimage, 3.68).", ("POST", VOLUME_ACTION)
    ),
    documented(
        REIMAGE_RESERVED,
        OWNER_MEMBER,
        "Reimage a reserved volume (a server's rebuild).",
        ("POST", VOLUME_ACTION),
    ),
    documented(BACKUP_CREATE, OWNER_MEMBER, "Back up a volume.", ("POST", BACKUPS)),
    documented(BACKUP_GET, OWNER_READER, "Show a backup.", ("GET", BACKUP)),
    documented(
        BACKUP_GET_ALL,
        ANYONE,
        "List the backups one may see.",
        ("GET", BACKUPS),
        ("GET", f"{BACKUPS}/detail"),
    ),
    documented(BACKUP_ALL_TENANTS, ADMIN, "List every project's backups (all_tenants).", ("GET", BACKUPS)),
    documented(BACKUP_UPDATE, OWNER_MEMBER, "Update a backup (3.9).", ("PUT", BACKUP)),
    documented(BACKUP_DELETE, OWNER_MEMBER, "Delete a backup.", ("DELETE", BACKUP)),
    documented(
        BACKUP_RESTORE,
        OWNER_MEMBER,
        "Restore a backup to a new or existing volume.",
        ("POST", f"{BACKUP}/restore"),
    ),
    documented(
        BACKUP_FORCE_DELETE, ADMIN, "Delete a backup whatever its status.", ("POST", f"{BACKUP}/action")
    ),
    documented(BACKUP_RESET_STATUS, ADMIN, "Reset a backup's status.", ("POST", f"{BACKUP}/action")),
    documented(
        BACKUP_PROJECT_ATTRIBUTE, ADMIN, "See os-backup-project-attr:project_id (3.18).", ("GET", BACKUP)
    ),
    documented(
        TRANSFER_CREATE, OWNER_MEMBER, "Offer a volume to another project.", *_both_transfer_paths("POST")
    ),
    documented(
        TRANSFER_GET, OWNER_READER, "Show a volume transfer.", *_both_transfer_paths("GET", "/{transfer_id}")
    ),
    documented(
        TRANSFER_GET_ALL,
        ANYONE,
        "List one's volume transfers.",
        *_both_transfer_paths("GET"),
        *_both_transfer_paths("GET", "/detail"),
    ),
    documented(
        TRANSFER_ACCEPT,
        ANYONE,
        "Accept a volume transfer with its auth key.",
        *_both_transfer_paths("POST", "/{transfer_id}/accept"),
    ),
    documented(
        TRANSFER_DELETE,
        OWNER_MEMBER,
        "Cancel a volume transfer.",
        *_both_transfer_paths("DELETE", "/{transfer_id}"),
    ),
)

# --- generic volume groups, their types and snapshots (3.11-3.20) -----------------------------------------
GROUP_TYPES = f"{V3}/group_types"
GROUP_TYPE = f"{GROUP_TYPES}/{{group_type_id}}"
GROUPS = f"{V3}/groups"
GROUP = f"{GROUPS}/{{group_id}}"
GROUP_SNAPSHOTS = f"{V3}/group_snapshots"
GROUP_SNAPSHOT = f"{GROUP_SNAPSHOTS}/{{group_snapshot_id}}"

# Cinder checks no rule on listing and showing group types; Overcast names one so every route has its rule.
GROUP_TYPE_GET = "group:group_types:get"
GROUP_TYPE_MANAGE = "group:group_types_manage"
GROUP_TYPE_SPECS_SHOWN = "group:access_group_types_specs"
GROUP_TYPE_SPECS = "group:group_types_specs"
GROUP_CREATE = "group:create"
GROUP_GET = "group:get"
GROUP_GET_ALL = "group:get_all"
GROUP_UPDATE = "group:update"
GROUP_DELETE = "group:delete"
GROUP_RESET_STATUS = "group:reset_status"
GROUP_SNAPSHOT_CREATE = "group:create_group_snapshot"
GROUP_SNAPSHOT_GET = "group:get_group_snapshot"
GROUP_SNAPSHOT_GET_ALL = "group:get_all_group_snapshots"
GROUP_SNAPSHOT_DELETE = "group:delete_group_snapshot"
GROUP_SNAPSHOT_RESET_STATUS = "group:reset_group_snapshot_status"
GROUP_PROJECT_ATTRIBUTE = "group:group_project_attribute"
GROUP_SNAPSHOT_PROJECT_ATTRIBUTE = "group:group_snapshot_project_attribute"

RULES = (
    *RULES,
    documented(
        GROUP_TYPE_GET,
        ANYONE,
        "List and show the group types one may use (3.11).",
        ("GET", GROUP_TYPES),
        ("GET", GROUP_TYPE),
    ),
    documented(
        GROUP_TYPE_MANAGE,
        ADMIN,
        "Create, update or delete a group type.",
        ("POST", GROUP_TYPES),
        ("PUT", GROUP_TYPE),
        ("DELETE", GROUP_TYPE),
    ),
    documented(
        GROUP_TYPE_SPECS_SHOWN, ADMIN, "See group_specs in the group type views.", ("GET", GROUP_TYPE)
    ),
    documented(
        GROUP_TYPE_SPECS,
        ADMIN,
        "Create, show, update and delete a group type's specs.",
        ("GET", f"{GROUP_TYPE}/group_specs"),
        ("POST", f"{GROUP_TYPE}/group_specs"),
        ("GET", f"{GROUP_TYPE}/group_specs/{{key}}"),
        ("PUT", f"{GROUP_TYPE}/group_specs/{{key}}"),
        ("DELETE", f"{GROUP_TYPE}/group_specs/{{key}}"),
    ),
    documented(
        GROUP_CREATE,
        OWNER_MEMBER,
        "Create a generic volume group (3.13), or one from a group snapshot or another group (3.14).",
        ("POST", GROUPS),
        ("POST", f"{GROUPS}/action"),
    ),
    documented(GROUP_GET, OWNER_READER, "Show a group.", ("GET", GROUP)),
    documented(
        GROUP_GET_ALL, ANYONE, "List the groups one may see.", ("GET", GROUPS), ("GET", f"{GROUPS}/detail")
    ),
    documented(
        GROUP_UPDATE, OWNER_MEMBER, "Rename a group, add volumes to it or remove them.", ("PUT", GROUP)
    ),
    documented(GROUP_DELETE, OWNER_MEMBER, "Delete a group (and its volumes).", ("POST", f"{GROUP}/action")),
    documented(GROUP_RESET_STATUS, ADMIN, "Reset a group's status (3.20).", ("POST", f"{GROUP}/action")),
    documented(
        GROUP_SNAPSHOT_CREATE,
        OWNER_MEMBER,
        "Snapshot a group's volumes together (3.14).",
        ("POST", GROUP_SNAPSHOTS),
    ),
    documented(GROUP_SNAPSHOT_GET, OWNER_READER, "Show a group snapshot.", ("GET", GROUP_SNAPSHOT)),
    documented(
        GROUP_SNAPSHOT_GET_ALL,
        ANYONE,
        "List the group snapshots one may see.",
        ("GET", GROUP_SNAPSHOTS),
        ("GET", f"{GROUP_SNAPSHOTS}/detail"),
    ),
    documented(GROUP_SNAPSHOT_DELETE, OWNER_MEMBER, "Delete a group snapshot.", ("DELETE", GROUP_SNAPSHOT)),
    documented(
        GROUP_SNAPSHOT_RESET_STATUS,
        ADMIN,
        "Reset a group snapshot's status (3.19).",
        ("POST", f"{GROUP_SNAPSHOT}/action"),
    ),
    documented(GROUP_PROJECT_ATTRIBUTE, ADMIN, "See project_id in the group views (3.58).", ("GET", GROUP)),
    documented(
        GROUP_SNAPSHOT_PROJECT_ATTRIBUTE,
        ADMIN,
        "See project_id in the group snapshot views (3.58).",
        ("GET", GROUP_SNAPSHOT),
    ),
)


def _with_projectless_twins(rule: DocumentedRule) -> DocumentedRule:
    """Each operation below /volume/v3/{project_id} is served below /volume/v3 too (3.67's URLs, at
    every version): the rule guards both."""
    prefix = f"{V3}/"
    twins = tuple(
        Operation(operation.method, "/volume/v3/" + operation.path[len(prefix) :])
        for operation in rule.operations
        if operation.path.startswith(prefix)
    )
    return replace(rule, operations=rule.operations + twins)


RULES = tuple(_with_projectless_twins(rule) for rule in RULES)
