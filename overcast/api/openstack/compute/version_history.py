"""Every compute microversion up to our maximum: what it changed in Nova and where Overcast handles it.

A reviewer audits ``HISTORY`` row by row. Each row is one of:

* ``implemented`` — we serve the change exactly (bodies, status codes, parameters); ``where`` says where.
* ``no-op`` — the change alters nothing we serve (a header we always sent, a URL form we never had).
* ``absent`` — the change concerns an API that does not exist here at any microversion (live migration,
  evacuate, volume attachments, network proxies...); such requests fail the same way at every version,
  so claiming the microversion promises nothing we do not do.
* ``partial`` — we serve the change but for a case the summary names, which answers a clear 4xx at every
  version instead (a request this cloud cannot carry out yet), never a silent difference.

The named constants are the versions the code compares against (``req.version >= TAGS``), so a grep for
a constant finds every place that honours its row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from overcast.api.openstack.compute.microversion import APIVersion

Status = Literal["implemented", "no-op", "absent", "partial"]

KEYPAIR_TYPE = APIVersion(2, 2)
EXTENDED_SERVER_ATTRS = APIVersion(2, 3)
IP6_FILTER = APIVersion(2, 5)
FLAVOR_ACCESS_CONFLICT = APIVersion(2, 7)
LOCKED = APIVersion(2, 9)
KEYPAIR_USER_ID = APIVersion(2, 10)
FORCED_DOWN = APIVersion(2, 11)
VIRTUAL_INTERFACE_NET_ID = APIVersion(2, 12)
SERVER_GROUP_OWNER = APIVersion(2, 13)
SOFT_AFFINITY = APIVersion(2, 15)
HOST_STATUS = APIVersion(2, 16)
CRASH_DUMP = APIVersion(2, 17)
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
NETWORK_ACTIONS_GONE = APIVersion(2, 44)
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
TRUSTED_CERTS = APIVersion(2, 63)
GROUP_POLICY_RULES = APIVersion(2, 64)
ABORT_LIVE_MIGRATION = APIVersion(2, 24)
ABORT_QUEUED_LIVE_MIGRATION = APIVersion(2, 65)
CHANGES_BEFORE = APIVersion(2, 66)
BDM_VOLUME_TYPE = APIVersion(2, 67)
ATTACH_TAGS_SHOWN = APIVersion(2, 70)
SERVER_GROUPS_SHOWN = APIVersion(2, 71)
LOCKED_REASON = APIVersion(2, 73)
CREATE_HOST = APIVersion(2, 74)
FULL_UPDATE_BODIES = APIVersion(2, 75)
FLAVOR_SWAP_ZERO = APIVersion(2, 75)
STRICT_QUERY = APIVersion(2, 75)
POWER_UPDATE_EVENT = APIVersion(2, 76)
UNSHELVE_ZONE = APIVersion(2, 77)
SERVER_TOPOLOGY = APIVersion(2, 78)
MIGRATION_OWNER = APIVersion(2, 80)
IMAGE_CACHE = APIVersion(2, 81)
ACCELERATOR_EVENT = APIVersion(2, 82)
MEMBER_FILTERS = APIVersion(2, 83)
EVENT_DETAILS = APIVersion(2, 84)
EXTRA_SPEC_VALIDATION = APIVersion(2, 86)
STABLE_RESCUE = APIVersion(2, 87)
HYPERVISOR_CLEANUP = APIVersion(2, 88)
HOSTNAME = APIVersion(2, 90)
UNSHELVE_HOST = APIVersion(2, 91)
KEYPAIR_IMPORT_ONLY = APIVersion(2, 92)
REBUILD_VOLUME_BACKED = APIVersion(2, 93)
FQDN_HOSTNAME = APIVersion(2, 94)
EVACUATE_STOPPED = APIVersion(2, 95)
PINNED_ZONE = APIVersion(2, 96)
IMAGE_PROPERTIES = APIVersion(2, 98)
SCHEDULER_HINTS_SHOWN = APIVersion(2, 100)


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
    _row(12, "implemented", "os-virtual-interfaces net_id", _S + "interfaces.py"),
    _row(13, "implemented", "server groups show project_id and user_id", _S + "server_groups.py"),
    _row(14, "absent", "evacuate: onSharedStorage and adminPass removed (no evacuate action)"),
    _row(15, "implemented", "soft-affinity and soft-anti-affinity policies", _S + "server_groups.py"),
    _row(
        16, "implemented", "host_status in server detail (admins)", _S + "views.py, compute/server_queries.py"
    ),
    _row(17, "implemented", "trigger_crash_dump action (an NMI over QMP; the fake records it)",
         _S + "server_actions.py, virt/qemu/driver.py"),
    _row(18, "no-op", "project_id optional in URLs (our URLs never carry one)"),
    _row(
        19,
        "implemented",
        "server description in create, update, rebuild and views",
        _S + "schemas.py, servers.py, server_actions.py, views.py",
    ),
    _row(20, "implemented", "volume attach/detach while shelved or shelved-offloaded (offloaded: no "
         "connection until the unshelving host connects them all)",
         _S + "volume_attachments.py, compute/api/volume_attachments.py"),
    _row(21, "implemented", "instance actions of deleted servers", _S + "instance_actions.py"),
    _row(22, "absent", "force-complete live migration (no live migration)"),
    _row(
        23,
        "implemented",
        "migration_type in os-migrations (links only for in-progress live migrations: never here); "
        "GET /servers/{id}/migrations[/{id}] (in-progress live migrations only: always empty / 404)",
        _S + "migrations.py",
    ),
    _row(24, "absent", "abort live migration: DELETE /servers/{id}/migrations/{id} finds no live migration "
         "(404; a cold move's id is Nova's 400)", _S + "migrations.py"),
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
        "network quotas and limits removed; the image, os-networks, os-floating-ip-pools and "
        "security-group proxies 404",
        _S + "quota_sets.py, limits.py, images.py, networks_proxy.py, security_groups.py",
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
    _row(43, "implemented", "os-hosts removed (served up to 2.42)", _S + "hosts.py"),
    _row(
        44,
        "implemented",
        "add/removeFloatingIp, add/removeFixedIp and os-virtual-interfaces removed (served up to 2.43 "
        "from the network service's floating IPs and ports, a 404 from 2.44)",
        _S + "server_actions.py, interfaces.py, compute/api/server_floating_ips.py, "
        "compute/api/server_fixed_ips.py",
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
        "volume-extended external event (the server's host tells the guest its disk grew)",
        _S + "instance_actions.py, server_external_events.py, compute/manager/external_events.py",
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
    _row(63, "implemented", "trusted_image_certificates at create and rebuild (unique, 1-50 strings; kept; "
         "null clears at rebuild) and in the server bodies", _S + "schemas.py, views.py, compute/servers.py"),
    _row(64, "implemented", "server groups take policy (one string) and rules (max_server_per_host, "
         "anti-affinity only) instead of policies; no metadata in bodies", _S + "server_groups.py"),
    _row(65, "absent", "abort a live migration while queued or preparing (DELETE "
         "/servers/{id}/migrations/{id}): no live migration here to abort in any state"),
    _row(66, "implemented", "changes-before filter on servers, instance actions and migrations (with "
         "changes-since, not before it)", _S + "server_filters.py, instance_actions.py, migrations.py"),
    _row(67, "implemented", "volume_type accepted in block_device_mapping_v2 items (for the volume a mapping "
         "creates)", _S + "schemas.py"),
    _row(68, "absent", "live-migrate force flag removed (no live migration)"),
    _row(69, "no-op", "minimal views of servers, services and hypervisors in down cells: one database, no "
         "cells, so no record is ever partial"),
    _row(70, "implemented", "tag in os-interface bodies (null: no device metadata kept yet) and in "
         "os-volume_attachments bodies", _S + "interfaces.py, volume_attachments.py"),
    _row(71, "implemented", "server_groups (the group's uuid) in server show, update and rebuild",
         _S + "views.py, compute/server_queries.py"),
    _row(72, "no-op", "neutron ports with resource requests at create: no port here carries a QoS "
         "minimum-bandwidth request, so nothing is refused or scheduled differently"),
    _row(73, "implemented", "lock with locked_reason; locked_reason in server bodies; locked list filter",
         _S + "server_actions.py, views.py, server_filters.py"),
    _row(74, "implemented", "host and hypervisor_hostname at create (admins; 400 when no such compute node): "
         "the build and its reschedules stay there", _S + "servers.py, compute/servers.py, "
         "scheduler/request_spec.py"),
    _row(75, "implemented", "full server bodies for update and rebuild; unknown list query parameters 400; "
         "flavor swap 0 instead of \"\"; hypervisors asked with_servers always show servers",
         _S + "views.py, server_filters.py, hypervisors.py"),
    _row(76, "implemented", "power-update external event (tag POWER_ON/POWER_OFF): the server's host "
         "stops or starts the server and its VM as Nova's manager does", _S + "server_external_events.py, "
         "compute/manager/external_events.py"),
    _row(77, "implemented", "unshelve may name an availability_zone", _S + "server_actions.py"),
    _row(78, "implemented", "GET /servers/{id}/topology (no server here has a NUMA topology: no nodes)",
         _S + "server_topology.py"),
    _row(79, "implemented", "delete_on_termination when attaching a volume, and shown",
         _S + "volume_attachments.py"),
    _row(80, "implemented", "os-migrations user_id and project_id filters and fields",
         _S + "migrations.py"),
    _row(81, "implemented", "image pre-caching: POST /os-aggregates/{id}/images has each compute host of "
         "the aggregate fetch the images into its cache (202)", _S + "aggregates.py, "
         "compute/api/image_precache.py"),
    _row(82, "implemented", "accelerator-request-bound external event (acknowledged: no accelerators)",
         _S + "server_external_events.py"),
    _row(83, "implemented", "non-admins may filter servers by availability_zone, config_drive, key_name, "
         "created_at, launched_at, terminated_at (Nova's REGEXP on the timestamp's text), power_state, "
         "task_state, vm_state, progress, user_id", _S + "server_filters.py, compute/api/server_queries.py"),
    _row(84, "implemented", "instance action events show details", _S + "instance_actions.py"),
    _row(85, "implemented", "PUT os-volume_attachments/{id} updates delete_on_termination",
         _S + "volume_attachments.py"),
    _row(86, "implemented", "flavor extra specs validated: unknown keys of known namespaces refused, "
         "custom namespaces allowed", _S + "flavor_extra_specs.py"),
    _row(87, "implemented", "stable rescue: a volume-backed server boots the rescue image (the one asked "
         "for, else its root volume's) first with its root volume beside it; 400 before 2.87 or with no "
         "image to rescue with", _S + "server_actions.py, compute/api/actions.py, virt/qemu/volumes.py"),
    _row(88, "implemented", "hypervisors lose cpu_info, free/used resources, workload and vms counts; "
         "uptime in show (the compute host's own `uptime` line, null when it is down); statistics and "
         "/uptime 404", _S + "hypervisors.py, compute/manager/uptime.py"),
    _row(89, "implemented", "volume attachments show attachment_id and bdm_uuid, no longer id",
         _S + "volume_attachments.py"),
    _row(90, "implemented", "hostname at create, update and rebuild; OS-EXT-SRV-ATTR:hostname shown to all",
         _S + "schemas.py, server_actions.py, views.py"),
    _row(91, "implemented", "unshelve of an offloaded server may name a host (admins) or unpin the zone "
         "with a null availability_zone", _S + "server_actions.py, compute/actions_lifecycle.py, "
         "conductor/moves.py"),
    _row(92, "implemented", "key pairs are imported only: public_key required", _S + "keypairs.py"),
    _row(93, "implemented", "rebuild of a volume-backed server: its root volume reimaged (Block Storage "
         "os-reimage, reimage_reserved) and reattached; 400 before 2.93",
         "compute/actions_lifecycle.py, compute/manager/images.py, compute/manager/volumes.py"),
    _row(94, "implemented", "hostnames may be FQDNs (up to 255 characters)", _S + "schemas.py"),
    _row(95, "absent", "evacuate leaves the server STOPPED (no evacuate action)"),
    _row(96, "implemented", "pinned_availability_zone in server bodies", _S + "views.py"),
    _row(97, "absent", "shares attached to servers (/servers/{id}/shares: no shared file system service)"),
    _row(98, "implemented", "image properties in the server body's image", _S + "views.py"),
    _row(99, "no-op", "spice-direct console connection details (no SPICE consoles: serial only)"),
    _row(100, "implemented", "scheduler_hints in server bodies", _S + "views.py"),
)
# fmt: on
