"""Compute API policy rules (Nova's defaults: members act in their project, readers look, admins all)."""

from __future__ import annotations

from overcast import policy

SERVERS_CREATE = "os_compute_api:servers:create"
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
# Registered with the extra-specs routes (flavor_extra_specs.py); server bodies embed extra specs by it.
FLAVOR_EXTRA_SPECS_INDEX = "os_compute_api:os-flavor-extra-specs:index"
FLAVORS_INDEX = "os_compute_api:flavors:index"
FLAVORS_SHOW = "os_compute_api:flavors:show"
FLAVORS_MANAGE = "os_compute_api:os-flavor-manage"
FLAVORS_UPDATE = "os_compute_api:os-flavor-manage:update"
KEYPAIRS = "os_compute_api:os-keypairs"

RULES: dict[str, policy.Check] = {
    SERVERS_CREATE: policy.ADMIN_OR_MEMBER,
    SERVERS_INDEX: policy.ADMIN_OR_READER,
    SERVERS_DETAIL: policy.ADMIN_OR_READER,
    SERVERS_SHOW: policy.ADMIN_OR_READER,
    SERVERS_UPDATE: policy.ADMIN_OR_MEMBER,
    SERVERS_DELETE: policy.ADMIN_OR_MEMBER,
    SERVERS_ALL_TENANTS: policy.ADMIN,
    EXTENDED_SERVER_ATTRIBUTES: policy.ADMIN,
    SERVERS_HOST_STATUS: policy.ADMIN,
    SERVER_TAGS_INDEX: policy.ADMIN_OR_READER,
    SERVER_TAGS_SHOW: policy.ADMIN_OR_READER,
    SERVER_TAGS_UPDATE: policy.ADMIN_OR_MEMBER,
    SERVER_TAGS_UPDATE_ALL: policy.ADMIN_OR_MEMBER,
    SERVER_TAGS_DELETE: policy.ADMIN_OR_MEMBER,
    SERVER_TAGS_DELETE_ALL: policy.ADMIN_OR_MEMBER,
    FLAVORS_INDEX: policy.ANYONE,
    FLAVORS_SHOW: policy.ANYONE,
    FLAVORS_MANAGE: policy.ADMIN,
    FLAVORS_UPDATE: policy.ADMIN,
    KEYPAIRS: policy.ADMIN_OR_OWNER,
}

policy.register(RULES)
