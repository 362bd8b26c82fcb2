"""Every Block Storage microversion up to our maximum: what it changed in Cinder and where Overcast
handles it.

A reviewer audits ``HISTORY`` row by row. Each row is one of:

* ``implemented`` — we serve the change exactly (bodies, status codes, parameters); ``where`` says where.
* ``no-op`` — the change alters nothing we serve (a filter we always honoured, a URL form we accept at
  every version).
* ``absent`` — the change concerns an API that does not exist here at any microversion (consistency
  groups, user messages, clusters, manage/unmanage, replication, workers); such requests are a 404 at
  every version, so claiming the microversion promises nothing we do not do.

The named constants are the versions the code compares against, so a grep for a constant finds every
place that honours its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from overcast.api.openstack.compute.microversion import APIVersion

Status = Literal["implemented", "no-op", "absent"]

UPLOAD_VISIBILITY = APIVersion(3, 1)
BOOTABLE_FILTER = APIVersion(3, 2)
VOLUMES_SUMMARY = APIVersion(3, 12)
GROUP_ID = APIVersion(3, 13)
PROVIDER_ID = APIVersion(3, 21)
DELETE_FORCE = APIVersion(3, 23)
ATTACHMENTS = APIVersion(3, 27)
RESOURCE_FILTERS = APIVersion(3, 33)
SUMMARY_METADATA = APIVersion(3, 36)
LIMITS_PROJECT = APIVersion(3, 39)
EXTEND_ATTACHED = APIVersion(3, 42)
ATTACHMENT_COMPLETE = APIVersion(3, 44)
WITH_COUNT = APIVersion(3, 45)
BACKUP_SOURCE = APIVersion(3, 47)
SHARED_TARGETS = APIVersion(3, 48)
ATTACHMENT_MODE = APIVersion(3, 54)
CLUSTER_NAME = APIVersion(3, 61)
DEFAULT_TYPES = APIVersion(3, 62)
GROUP_TYPES = APIVersion(3, 11)
GROUP_SNAPSHOT_RESET = APIVersion(3, 19)
GROUP_RESET = APIVersion(3, 20)
GROUP_VOLUMES = APIVersion(3, 25)
GROUP_PROJECT_ID = APIVersion(3, 58)
VOLUME_TYPE_ID = APIVersion(3, 63)
CONSUMES_QUOTA = APIVersion(3, 65)
# Snapshots, backups, transfers.
BACKUP_UPDATE = APIVersion(3, 9)
GROUP_SNAPSHOT_ID = APIVersion(3, 14)
BACKUP_PROJECT = APIVersion(3, 18)
REVERT = APIVersion(3, 40)
SNAPSHOT_USER_ID = APIVersion(3, 41)
BACKUP_METADATA = APIVersion(3, 43)
BACKUP_AZ = APIVersion(3, 51)
TRANSFER_WITH_SNAPSHOTS = APIVersion(3, 55)
BACKUP_USER_ID = APIVersion(3, 56)
TRANSFER_DETAILS = APIVersion(3, 57)
ENCRYPTION_KEY_ID = APIVersion(3, 64)
SNAPSHOT_IN_USE = APIVersion(3, 66)
REIMAGE = APIVersion(3, 68)


@dataclass(frozen=True)
class Change:
    version: APIVersion
    status: Status
    summary: str
    where: str


def _c(minor: int, status: Status, summary: str, where: str = "") -> Change:
    return Change(APIVersion(3, minor), status, summary, where)


VOLUMES = "overcast/api/openstack/volume/volumes.py"
VIEWS = "overcast/api/openstack/volume/views.py"
ACTIONS = "overcast/api/openstack/volume/actions.py"
ATTACH = "overcast/api/openstack/volume/attachments.py"
TYPES = "overcast/api/openstack/volume/types.py"
QUOTAS = "overcast/api/openstack/volume/quotas.py"
SNAPSHOTS = "overcast/api/openstack/volume/snapshots.py"
BACKUPS = "overcast/api/openstack/volume/backups.py"
TRANSFERS = "overcast/api/openstack/volume/transfers.py"
DISCOVERY = "overcast/api/openstack/volume/discovery.py"
DEFAULT_TYPES_API = "overcast/api/openstack/volume/default_types.py"
GROUP_TYPES_API = "overcast/api/openstack/volume/group_types.py"
GROUPS_API = "overcast/api/openstack/volume/groups.py"
GROUP_SNAPSHOTS_API = "overcast/api/openstack/volume/group_snapshots.py"

HISTORY: tuple[Change, ...] = (
    _c(0, "implemented", "The v2 API and its extensions as v3.", "overcast/api/openstack/volume/"),
    _c(1, "implemented", "visibility and protected in os-volume_upload_image.", ACTIONS),
    _c(2, "implemented", "The bootable filter parses true/false, not any value as true.", VOLUMES),
    _c(3, "absent", "User messages API."),
    _c(4, "no-op", "glance_metadata filter on volume lists: unknown filters are ignored, as Cinder does."),
    _c(5, "absent", "Pagination of user messages."),
    _c(6, "absent", "Empty name and description for consistency groups."),
    _c(7, "absent", "Clusters API and cluster_name in the service list."),
    _c(8, "absent", "Manageable volumes and snapshots."),
    _c(9, "implemented", "Backup update (name, description).", BACKUPS),
    _c(10, "implemented", "group_id filter on volume lists.", VOLUMES),
    _c(11, "implemented", "Group types and group specs.", GROUP_TYPES_API),
    _c(12, "implemented", "GET /volumes/summary.", VOLUMES),
    _c(13, "implemented", "Generic volume groups; the volume view gains group_id.", GROUPS_API),
    _c(14, "implemented", "Group snapshots, groups made from one or from a group (create-from-src), and "
       "group_snapshot_id and source_group_id in the group view.", GROUP_SNAPSHOTS_API),
    _c(15, "no-op", "ETag on volume metadata: no conditional metadata writes are offered."),
    _c(16, "absent", "Migrating a volume to a cluster."),
    _c(17, "absent", "Manageable resources by cluster."),
    _c(18, "implemented", "os-backup-project-attr:project_id in the backup view, for admins.", BACKUPS),
    _c(19, "implemented", "reset_status of group snapshots.", GROUP_SNAPSHOTS_API),
    _c(20, "implemented", "reset_status of groups.", GROUPS_API),
    _c(21, "implemented", "provider_id in the volume detail view, for admins.", VIEWS),
    _c(22, "implemented", "Metadata filter on snapshot lists.", SNAPSHOTS),
    _c(23, "implemented", "force in volume delete (admins).", VOLUMES),
    _c(24, "absent", "workers/cleanup."),
    _c(25, "implemented", "volumes in the group views (list_volume=true).", GROUPS_API),
    _c(26, "absent", "Replication failover of clusters."),
    _c(27, "implemented", "The attachments API.", ATTACH),
    _c(28, "absent", "Filters of scheduler-stats/get_pools."),
    _c(29, "implemented", "Sorting and paging of group snapshots.", GROUP_SNAPSHOTS_API),
    _c(30, "implemented", "Sorting snapshots by name.", SNAPSHOTS),
    _c(31, "no-op", "Configurable resource query filters: our filters are fixed."),
    _c(32, "absent", "Service set-log and get-log."),
    _c(33, "implemented", "GET /resource_filters: the filters each list honours.", DISCOVERY),
    _c(34, "implemented", "Like filters (name~) on volume lists.", VOLUMES),
    _c(35, "absent", "volume-type filter of get_pools."),
    _c(36, "implemented", "metadata in the volume summary.", VOLUMES),
    _c(37, "implemented", "Sorting backups by name.", BACKUPS),
    _c(38, "absent", "Replication groups."),
    _c(39, "implemented", "project_id filter of /limits for admins.", QUOTAS),
    _c(40, "implemented", "Revert a volume to its latest snapshot (the volume action revert).", SNAPSHOTS),
    _c(41, "implemented", "user_id in the snapshot views.", SNAPSHOTS),
    _c(42, "implemented", "Extending an in-use volume.", ACTIONS),
    _c(43, "implemented", "Backup metadata at create, update and in the views.", BACKUPS),
    _c(44, "implemented", "Attachment complete (os-complete).", ATTACH),
    _c(45, "implemented", "with_count on volume lists gives count.", VOLUMES),
    _c(46, "no-op", "Volumes from Nova's 0-size snapshot images: refused as any empty image."),
    _c(47, "implemented", "Creating a volume from a backup (backup_id).", VOLUMES),
    _c(48, "implemented", "shared_targets and service_uuid in the volume view.", VIEWS),
    _c(49, "no-op", "Backend state in the service list: only with a state column we do not keep."),
    _c(50, "implemented", "multiattach at volume create and in the view.", VOLUMES),
    _c(51, "implemented", "availability_zone at backup create.", BACKUPS),
    _c(52, "no-op", "Reserved RESKEY:availability_zones spec and extra_specs filter on type lists."),
    _c(53, "no-op", "Request bodies validated by schema: ours are checked at every version (400)."),
    _c(54, "implemented", "mode in attachment create.", ATTACH),
    _c(55, "implemented", "/volume-transfers and no_snapshots.", TRANSFERS),
    _c(56, "implemented", "user_id in the backup views.", BACKUPS),
    _c(57, "implemented", "source/destination project and accepted in the transfer views.", TRANSFERS),
    _c(58, "implemented", "project_id in the group and group snapshot views, for admins.", GROUPS_API),
    _c(59, "implemented", "limit and marker on transfer lists (newest first).", TRANSFERS),
    _c(60, "no-op", "Time comparison filters on created_at and updated_at: unknown filters are ignored."),
    _c(61, "implemented", "cluster_name in the volume detail view for admins (null: no clusters).", VIEWS),
    _c(62, "implemented", "/default-types (per-project defaults) and GET /types/default.", DEFAULT_TYPES_API),
    _c(63, "implemented", "volume_type_id in the volume detail view.", VIEWS),
    _c(64, "no-op", "encryption_key_id in the volume view when encrypted: no volume is encrypted here."),
    _c(65, "implemented", "consumes_quota in the volume view.", VIEWS),
    _c(66, "implemented", "Snapshots of in-use volumes without force (force=false refused).", SNAPSHOTS),
    _c(67, "no-op", "URLs without project_id: accepted at every version, as Cinder does."),
    _c(68, "implemented", "os-reimage: an image written over an available, error or (reimage_reserved) "
       "reserved volume.", ACTIONS),
    _c(69, "no-op", "shared_targets may be null: ours is always false."),
    _c(70, "no-op", "Encrypted volume transfers: no volume is encrypted here."),
    _c(71, "absent", "os-extend_volume_completion (only for drivers that extend asynchronously)."),
)  # fmt: skip
