"""Every compute microversion up to our maximum: what it changed in Nova and where Overcast handles it.

A reviewer audits ``HISTORY`` row by row. Each row is one of:

* ``implemented`` — we serve the change exactly (bodies, status codes, parameters); ``where`` says where.
* ``no-op`` — the change alters nothing we serve (a header we always sent, a URL form we never had).
* ``absent`` — the change concerns an API that does not exist here at any microversion (live migration,
  evacuate, volume attachments, network proxies...); such requests fail the same way at every version,
  so claiming the microversion promises nothing we do not do.

The named constants are the versions the code compares against (``req.version >= TAGS``), so a grep for
a constant finds every place that honours its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from overcast.api.openstack.compute.microversion import APIVersion

Status = Literal["implemented", "no-op", "absent"]

KEYPAIR_TYPE = APIVersion(2, 2)
EXTENDED_SERVER_ATTRS = APIVersion(2, 3)
IP6_FILTER = APIVersion(2, 5)
FLAVOR_ACCESS_CONFLICT = APIVersion(2, 7)
LOCKED = APIVersion(2, 9)
KEYPAIR_USER_ID = APIVersion(2, 10)
FORCED_DOWN = APIVersion(2, 11)
SERVER_GROUP_OWNER = APIVersion(2, 13)
SOFT_AFFINITY = APIVersion(2, 15)
HOST_STATUS = APIVersion(2, 16)
DESCRIPTION = APIVersion(2, 19)
ACTIONS_OF_DELETED = APIVersion(2, 21)
MIGRATION_TYPE = APIVersion(2, 23)
TAGS = APIVersion(2, 26)
CPU_INFO_OBJECT = APIVersion(2, 28)
DEVICE_TAGS = APIVersion(2, 32)
HYPERVISOR_PAGING = APIVersion(2, 33)
KEYPAIR_PAGING = APIVersion(2, 35)
NETWORK_QUOTAS_GONE = APIVersion(2, 36)
NETWORKS_REQUIRED = APIVersion(2, 37)
INVALID_STATUS_400 = APIVersion(2, 38)
IMAGE_META_LIMIT_GONE = APIVersion(2, 39)
USAGE_PAGING = APIVersion(2, 40)
AGGREGATE_UUID = APIVersion(2, 41)
DEVICE_TAGS_RESTORED = APIVersion(2, 42)
IMAGE_ID_BODY = APIVersion(2, 45)
FLAVOR_EMBEDDED = APIVersion(2, 47)
DIAGNOSTICS_STANDARD = APIVersion(2, 48)
TAGGED_ATTACH = APIVersion(2, 49)
QUOTA_CLASS_SERVER_GROUPS = APIVersion(2, 50)
EVENTS_FOR_MEMBERS = APIVersion(2, 51)
TAGS_AT_CREATE = APIVersion(2, 52)
UUID_IDS = APIVersion(2, 53)
REBUILD_KEY_NAME = APIVersion(2, 54)
FLAVOR_DESCRIPTION = APIVersion(2, 55)
MIGRATE_HOST = APIVersion(2, 56)
PERSONALITY_GONE = APIVersion(2, 57)
ACTIONS_PAGING = APIVersion(2, 58)
MIGRATIONS_PAGING = APIVersion(2, 59)
FLAVOR_EXTRA_SPECS = APIVersion(2, 61)
EVENT_HOST = APIVersion(2, 62)
# Beyond our maximum, named so the code that will honour them is written against them already.
FULL_UPDATE_BODIES = APIVersion(2, 75)
FLAVOR_SWAP_ZERO = APIVersion(2, 75)


@dataclass(frozen=True)
class Change:
    version: APIVersion
    status: Status
    summary: str
    where: str


def _row(minor: int, status: Status, summary: str, where: str = "") -> Change:
    return Change(APIVersion(2, minor), status, summary, where)


_S = "api/openstack/compute/"
# fmt: off
HISTORY: tuple[Change, ...] = (
    _row(
        2,
        "implemented",
        "key pair type (ssh/x509) in bodies and create; create 201, delete 204",
        _S + "keypairs.py, compute/keypairs.py",
    ),
    _row(
        3,
        "implemented",
        "admin server attrs reservation_id, launch_index, hostname, kernel_id, ramdisk_id, "
        "root_device_name, user_data; volumes_attached delete_on_termination (no volumes: [])",
        _S + "views.py ServerView",
    ),
    _row(4, "absent", "reserved flag in os-fixed-ips (no nova-network APIs)"),
    _row(
        5,
        "implemented",
        "ip6 filter for non-admins (servers have no addresses: ip/ip6 match nothing)",
        "compute/server_queries.py",
    ),
    _row(6, "implemented", "POST /servers/{id}/remote-consoles replaces the console actions (serial consoles "
         "only; other protocols are 400 at every version)", _S + "remote_consoles.py"),
    _row(7, "implemented", "adding access to a public flavor is 409", _S + "flavor_access.py"),
    _row(8, "no-op", "mks remote consoles (refused like any console but serial)", _S + "remote_consoles.py"),
    _row(9, "implemented", "locked in server detail, update and rebuild", _S + "views.py"),
    _row(10, "implemented", "key pairs: user_id query (admins) and user_id at create", _S + "keypairs.py"),
    _row(
        11, "implemented", "services: forced_down field and PUT /os-services/force-down", _S + "services.py"
    ),
    _row(12, "absent", "os-virtual-interfaces net_id"),
    _row(13, "implemented", "server groups show project_id and user_id", _S + "server_groups.py"),
    _row(14, "absent", "evacuate: onSharedStorage and adminPass removed (no evacuate action)"),
    _row(15, "implemented", "soft-affinity and soft-anti-affinity policies", _S + "server_groups.py"),
    _row(
        16, "implemented", "host_status in server detail (admins)", _S + "views.py, compute/server_queries.py"
    ),
    _row(17, "absent", "trigger_crash_dump action"),
    _row(18, "no-op", "project_id optional in URLs (our URLs never carry one)"),
    _row(
        19,
        "implemented",
        "server description in create, update, rebuild and views",
        _S + "schemas.py, servers.py, server_actions.py, views.py",
    ),
    _row(20, "absent", "volume attach/detach while shelved (no volume attachments)"),
    _row(21, "implemented", "instance actions of deleted servers", _S + "instance_actions.py"),
    _row(22, "absent", "force-complete live migration (no live migration)"),
    _row(
        23,
        "implemented",
        "migration_type in os-migrations (links only for in-progress live migrations: never here); "
        "GET /servers/{id}/migrations[/{id}] (in-progress live migrations only: always empty / 404)",
        _S + "migrations.py",
    ),
    _row(24, "absent", "abort live migration"),
    _row(25, "absent", "os-migrateLive block_migration auto"),
    _row(
        26,
        "implemented",
        "server tags API, tags in views, tags/tags-any/not-tags/not-tags-any filters",
        _S + "server_tags.py, compute/tags.py, views.py",
    ),
    _row(
        27,
        "no-op",
        "OpenStack-API-Version header (accepted and echoed at every version)",
        _S + "microversion.py",
    ),
    _row(28, "implemented", "hypervisor cpu_info is an object", _S + "hypervisors.py"),
    _row(29, "absent", "evacuate force flag"),
    _row(30, "absent", "live-migrate force flag"),
    _row(31, "absent", "os-console-auth-tokens for every console type"),
    _row(32, "implemented", "tag on networks and block_device_mapping_v2 items at create", _S + "schemas.py"),
    _row(
        33,
        "implemented",
        "hypervisors limit/marker paging; bdm tag refused again until 2.42",
        _S + "hypervisors.py, schemas.py",
    ),
    _row(34, "absent", "live migration pre-checks asynchronous"),
    _row(35, "implemented", "key pairs limit/marker paging", _S + "keypairs.py"),
    _row(
        36,
        "implemented",
        "network quotas and limits removed; proxy APIs 404 (never served here)",
        _S + "quota_sets.py, limits.py",
    ),
    _row(
        37,
        "implemented",
        "networks required at create ('auto', 'none' or a list); uuid checked; "
        "network tag refused until 2.42",
        _S + "schemas.py",
    ),
    _row(38, "implemented", "invalid status filter is 400", "compute/server_queries.py"),
    _row(
        39,
        "implemented",
        "maxImageMeta removed from limits; image-metadata proxy 404 (never served)",
        _S + "limits.py",
    ),
    _row(40, "implemented", "simple tenant usage limit/marker paging", _S + "usage.py"),
    _row(41, "implemented", "aggregates show uuid", _S + "aggregates.py"),
    _row(42, "implemented", "device tags accepted again on networks and bdm", _S + "schemas.py"),
    _row(43, "absent", "os-hosts removed (never served)"),
    _row(
        44, "absent", "add/removeFixedIp, add/removeFloatingIp, os-virtual-interfaces removed (never served)"
    ),
    _row(
        45,
        "implemented",
        "createImage answers {image_id} instead of a Location header",
        _S + "server_actions.py",
    ),
    _row(46, "no-op", "X-OpenStack-Request-ID header (sent on every response)"),
    _row(47, "implemented", "server flavor is the embedded flavor (extra_specs if allowed)", _S + "views.py"),
    _row(48, "implemented", "standard diagnostics format", _S + "server_password.py"),
    _row(
        49,
        "implemented",
        "tag on os-interface attach (accepted, not kept: no device metadata yet; no volume attach)",
        _S + "interfaces.py",
    ),
    _row(
        50,
        "implemented",
        "quota class sets gain server_groups/server_group_members, lose network quotas",
        _S + "quota_sets.py",
    ),
    _row(
        51,
        "implemented",
        "instance action events shown to non-admins (without traceback); "
        "volume-extended external event (no external events API)",
        _S + "instance_actions.py",
    ),
    _row(52, "implemented", "tags at server create", _S + "schemas.py, compute/api.py"),
    _row(
        53,
        "implemented",
        "services and hypervisors identified by uuid; PUT /os-services/{id}; "
        "hypervisor search/servers replaced by query parameters",
        _S + "services.py, hypervisors.py",
    ),
    _row(54, "implemented", "rebuild may set key_name", _S + "server_actions.py"),
    _row(55, "implemented", "flavor description; PUT /flavors/{id}", _S + "flavors.py, views.py"),
    _row(56, "implemented", "migrate action may name the destination host", _S + "server_actions.py"),
    _row(
        57,
        "implemented",
        "personality removed; rebuild user_data; maxPersonality* and injected_file* gone",
        _S + "schemas.py, server_actions.py, limits.py, quota_sets.py",
    ),
    _row(
        58,
        "implemented",
        "instance actions limit/marker/changes-since and updated_at",
        _S + "instance_actions.py",
    ),
    _row(
        59,
        "implemented",
        "os-migrations uuid, limit/marker paging newest first, changes-since, unknown parameters 400",
        _S + "migrations.py, compute/migrations.py",
    ),
    _row(60, "no-op", "multiattach volumes (no volume attachments)"),
    _row(61, "implemented", "flavor extra_specs in flavor bodies", _S + "views.py FlavorView"),
    _row(
        62,
        "implemented",
        "instance action events show host (if allowed) and hostId",
        _S + "instance_actions.py",
    ),
)
# fmt: on
