"""OpenAPI 3.1 documents of each OpenStack API the app serves, readable without a token.

FastAPI builds the paths, parameters and schemas from the routes and their request and response models;
this module cuts that one document into one per API (the paths below its prefix, with the components
they refer to) and adds what FastAPI cannot know: the `X-Auth-Token` security scheme (none on the
public paths), the compute microversion header, the errors each API really answers with, in its own
body shape (Nova's, Keystone's or Glance's, never FastAPI's 422), and, per route (`RouteNotes`), what
a route reads or answers by hand: query parameters, Glance's bodies (shaped by the image API's own JSON
schemas), the server action's body (from the action models), and success statuses that differ from the
decorator's (bare responses, statuses that depend on the microversion). A response without a model is
documented as what it is, a JSON object, so a client or a fuzzer can check every answer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from overcast.api.auth import PublicPaths, readable_without_token
from overcast.api.billing import document as billing_document
from overcast.api.openstack.compute import action_schemas, server_actions, server_filters
from overcast.api.openstack.compute.microversion import LEGACY_HEADER, MAX_VERSION, MIN_VERSION, NEW_HEADER
from overcast.api.openstack.image.images import PATCH_MEDIA_TYPE
from overcast.api.openstack.image.schemas import IMAGE_PROPERTIES, MEMBER_PROPERTIES
from overcast.api.openstack.volume.microversion import HEADER as VOLUME_HEADER
from overcast.api.openstack.volume.microversion import MAX_VERSION as VOLUME_MAX
from overcast.api.openstack.volume.microversion import MIN_VERSION as VOLUME_MIN
from overcast.api.portal import document as portal_document
from overcast.billing.cloudkitty import DATAFRAMES_PARAMETERS, SUMMARY_PARAMETERS
from overcast.compute.api.server_queries import EXACT_FILTERS, INTEGER_FILTERS, REGEX_FILTERS
from overcast.image.registry import MEMBER_STATUSES
from overcast.network.policies import TAGGED_COLLECTIONS

Schema = dict[str, Any]
JSON = "application/json"
READS = frozenset({"get", "head"})

SECURITY_SCHEME = "token"
_SECURITY_SCHEMES: Schema = {
    SECURITY_SCHEME: {
        "type": "apiKey",
        "in": "header",
        "name": "X-Auth-Token",
        "description": "A token from POST /identity/v3/auth/tokens (its X-Subject-Token header).",
    }
}

_ERROR_DESCRIPTIONS = {
    400: "The request is malformed or fails validation.",
    401: "No token, or one that is invalid, expired or revoked; or wrong credentials.",
    403: "Policy does not allow the caller this operation, or a quota is exceeded.",
    404: "The resource does not exist or is not visible to the caller.",
    406: "The requested microversion is outside the supported range.",
    409: "The resource's state does not allow the operation, or it conflicts with another.",
    413: "The request body is too large.",
    415: "The request body's media type is not the one this operation reads.",
    429: "Too many logins from this address or for this user, or the user is locked out (Retry-After).",
    412: "The resource is no longer at the revision named by If-Match (revision_number=N).",
    501: "The virt driver does not implement this (as Nova answers).",
    503: "Every password-hashing slot is busy and its queue is full (Retry-After).",
}

# Nova: {"itemNotFound": {"code": 404, "message": "..."}}, the one key naming the error.
NOVA_ERROR: Schema = {
    "type": "object",
    "minProperties": 1,
    "maxProperties": 1,
    "additionalProperties": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
    },
}
# Keystone: {"error": {"code": 401, "message": "...", "title": "Unauthorized"}}.
KEYSTONE_ERROR: Schema = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "title"],
            "properties": {
                "code": {"type": "integer"},
                "message": {"type": "string"},
                "title": {"type": "string"},
            },
        }
    },
}
# Glance (webob): JSON when the client accepts it, else a small HTML page.
GLANCE_ERROR: Schema = {
    "type": "object",
    "required": ["message", "code", "title"],
    "properties": {"message": {"type": "string"}, "code": {"type": "string"}, "title": {"type": "string"}},
}


@dataclass(frozen=True)
class RouteNotes:
    """What a route reads or answers that FastAPI cannot see in its signature."""

    body: Schema | None = None  # the request body: {media type: {"schema": ...}}
    successes: Schema | None = None  # replace the decorator's success response (status -> response)
    responses: Schema = field(default_factory=dict)  # complete or override the responses FastAPI found
    errors: tuple[int, ...] = ()  # error statuses beyond those every operation lists
    query: Sequence[str] = ()  # query parameters the route reads from the request itself


@dataclass(frozen=True)
class APIDocument:
    """One API's document: where it is served, which paths it covers and how its errors look."""

    title: str
    version: str
    url: str
    path_prefix: str
    error_content: Schema
    statuses_everywhere: tuple[int, ...] = ()
    routes: dict[tuple[str, str], RouteNotes] = field(default_factory=dict)


def _microversions() -> str:
    minors = "|".join(str(minor) for minor in range(MAX_VERSION.minor, MIN_VERSION.minor - 1, -1))
    return rf"^(compute ({MAX_VERSION.major}\.({minors})|latest))$"


COMPUTE_VERSION_PARAMETER: Schema = {
    "name": NEW_HEADER,
    "in": "header",
    "required": False,
    "description": (
        f"The microversion to serve: `compute X.Y` from {MIN_VERSION} to {MAX_VERSION} or `compute latest`"
        f" (or `{LEGACY_HEADER}: X.Y`); none means {MIN_VERSION}. Request models accept every version's"
        " fields and refuse those of a later version than the one asked for with a 400."
    ),
    "schema": {"type": "string", "pattern": _microversions()},
}


def _writable(properties: Schema) -> Schema:
    return {name: spec for name, spec in properties.items() if not spec.get("readOnly")}


IMAGE: Schema = {"type": "object", "properties": IMAGE_PROPERTIES, "additionalProperties": {"type": "string"}}
IMAGE_CREATE: Schema = {
    "type": "object",
    "properties": _writable(IMAGE_PROPERTIES),
    "additionalProperties": {"type": "string"},
}
IMAGE_PATCH: Schema = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["op", "path"],
        "properties": {
            "op": {"type": "string", "enum": ["add", "remove", "replace"]},
            "path": {"type": "string"},
            "value": {},
        },
    },
}
IMAGE_IMPORT: Schema = {
    "type": "object",
    "required": ["method"],
    "properties": {
        "method": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "uri": {"type": "string"}},
        },
        "stores": {"type": "array", "items": {"type": "string"}},
        "all_stores": {"type": "boolean"},
        "all_stores_must_succeed": {"type": "boolean"},
    },
}
IMAGE_MEMBER: Schema = {"type": "object", "properties": MEMBER_PROPERTIES}
IMAGE_MEMBER_CREATE: Schema = {
    "type": "object",
    "required": ["member"],
    "properties": {"member": {"type": "string"}},
}
IMAGE_MEMBER_UPDATE: Schema = {
    "type": "object",
    "required": ["status"],
    "properties": {"status": {"type": "string", "enum": list(MEMBER_STATUSES)}},
}
OCTETS: Schema = {"type": "string", "format": "binary"}
AN_OBJECT: Schema = {"type": "object"}


def _json(description: str, schema: Schema = AN_OBJECT) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _octets(description: str) -> Schema:
    return {"description": description, "content": {"application/octet-stream": {"schema": OCTETS}}}


def _empty(description: str) -> Schema:
    return {"description": description}


def _body(schema: Schema, media_type: str = JSON) -> Schema:
    return {media_type: {"schema": schema}}


# Keystone and Glance answer their roots with 300 Multiple Choices.
_VERSIONS = RouteNotes(successes={"300": _json("The versions (Multiple Choices)")})
IDENTITY_ROUTES: dict[tuple[str, str], RouteNotes] = {
    ("get", "/identity"): _VERSIONS,
    ("get", "/identity/"): _VERSIONS,
    # Logins are rate-limited and pass a bounded hash gate (identity/login_limits.py, passwords.py).
    ("post", "/identity/v3/auth/tokens"): RouteNotes(errors=(429, 503)),
}

# Glance's routes read their bodies and queries by hand (JSON-patch, raw data), so FastAPI sees none.
_IMAGE_ID = "/image/v2/images/{image_id}"
_PAGING = ("limit", "marker")
_IMAGE_QUERY = (
    *_PAGING, "name", "status", "visibility", "owner", "member_status", "tag", "disk_format",
    "container_format", "size_min", "size_max", "changes-since", "protected", "os_hidden", "id",
    "sort", "sort_key", "sort_dir", "created_at", "updated_at",
)  # fmt: skip
IMAGE_ROUTES: dict[tuple[str, str], RouteNotes] = {
    ("get", "/image"): _VERSIONS,
    ("get", "/image/"): _VERSIONS,
    ("get", "/image/v2/images"): RouteNotes(query=_IMAGE_QUERY),
    ("post", "/image/v2/images"): RouteNotes(
        body=_body(IMAGE_CREATE), responses={"201": _json("The new image", IMAGE)}
    ),
    ("get", _IMAGE_ID): RouteNotes(responses={"200": _json("The image", IMAGE)}),
    ("patch", _IMAGE_ID): RouteNotes(
        body=_body(IMAGE_PATCH, PATCH_MEDIA_TYPE),
        responses={"200": _json("The updated image", IMAGE)},
        errors=(415,),
    ),
    ("put", f"{_IMAGE_ID}/file"): RouteNotes(body=_body(OCTETS, "application/octet-stream")),
    ("put", f"{_IMAGE_ID}/stage"): RouteNotes(body=_body(OCTETS, "application/octet-stream")),
    ("get", f"{_IMAGE_ID}/file"): RouteNotes(
        successes={
            "200": _octets("The image data"),
            "206": _octets("The range asked for"),
            "204": _empty("The image has no data"),
        }
    ),
    ("post", f"{_IMAGE_ID}/import"): RouteNotes(body=_body(IMAGE_IMPORT)),
    ("post", f"{_IMAGE_ID}/members"): RouteNotes(
        body=_body(IMAGE_MEMBER_CREATE), responses={"200": _json("The new member", IMAGE_MEMBER)}
    ),
    ("get", f"{_IMAGE_ID}/members/{{member_id}}"): RouteNotes(
        responses={"200": _json("The member", IMAGE_MEMBER)}
    ),
    ("put", f"{_IMAGE_ID}/members/{{member_id}}"): RouteNotes(
        body=_body(IMAGE_MEMBER_UPDATE), responses={"200": _json("The updated member", IMAGE_MEMBER)}
    ),
}

COMPONENT_REF = "#/components/schemas/{model}"
# The model each server action's value is validated with; the other actions take no value (null or {}).
_ACTION_MODELS: dict[str, type[BaseModel]] = {
    "reboot": action_schemas.Reboot,
    "rescue": action_schemas.Rescue,
    "resize": action_schemas.Resize,
    "migrate": action_schemas.Migrate,
    "rebuild": action_schemas.Rebuild,
    "createImage": action_schemas.CreateImage,
    "os-getConsoleOutput": action_schemas.ConsoleOutput,
    "os-resetState": action_schemas.ResetState,
    "changePassword": action_schemas.ChangePassword,
}


def server_action_schema() -> tuple[Schema, Schema]:
    """The action body (one key naming the action, its value as that action's model reads it) and the
    component schemas its models refer to."""
    definitions: Schema = {}
    actions: Schema = {}
    for name in server_actions.ACTIONS:
        model = _ACTION_MODELS.get(name)
        if model is None:
            actions[name] = {"type": ["null", "object"], "maxProperties": 0}
            continue
        schema = model.model_json_schema(ref_template=COMPONENT_REF)
        definitions.update(schema.pop("$defs", {}))
        actions[name] = schema
    body = {
        "type": "object",
        "description": "Exactly one action, named by the key; its value as the action's model reads it.",
        "minProperties": 1,
        "maxProperties": 1,
        "properties": actions,
        "additionalProperties": False,
    }
    return body, definitions


SERVER_ACTION, SERVER_ACTION_DEFINITIONS = server_action_schema()
_SERVER_QUERY = sorted(
    server_filters.PAGING
    | server_filters.MEMBER_FILTERS
    | server_filters.SPECIAL_FILTERS
    | set(EXACT_FILTERS)
    | set(INTEGER_FILTERS)
    | set(REGEX_FILTERS)
)
_FLAVOR_QUERY = (*_PAGING, "is_public", "sort_key", "sort_dir", "minRam", "minDisk")
_HYPERVISOR_QUERY = (*_PAGING, "hypervisor_hostname_pattern", "with_servers")
_MIGRATION_QUERY = (
    *_PAGING, "changes-since", "hidden", "host", "source_compute", "status", "instance_uuid",
    "migration_type",
)  # fmt: skip
# Routes that read their queries by hand, answer with a bare Response (no body) or with a status that
# depends on the microversion.
COMPUTE_ROUTES: dict[tuple[str, str], RouteNotes] = {
    ("get", "/compute/v2.1/servers"): RouteNotes(query=_SERVER_QUERY),
    ("get", "/compute/v2.1/servers/detail"): RouteNotes(query=_SERVER_QUERY),
    ("post", "/compute/v2.1/servers/{server_id}/action"): RouteNotes(
        body=_body(SERVER_ACTION),
        successes={
            "200": _json("The action's answer (console output, serial console)"),
            "202": _empty("Accepted (rebuild and, from 2.45, createImage answer with a JSON object)"),
        },
    ),
    ("get", "/compute/v2.1/servers/{server_id}/os-instance-actions"): RouteNotes(
        query=(*_PAGING, "changes-since")
    ),
    ("put", "/compute/v2.1/servers/{server_id}/tags/{tag}"): RouteNotes(
        successes={"201": _empty("Added"), "204": _empty("The server had the tag already")}
    ),
    ("get", "/compute/v2.1/flavors"): RouteNotes(query=_FLAVOR_QUERY),
    ("get", "/compute/v2.1/flavors/detail"): RouteNotes(query=_FLAVOR_QUERY),
    ("delete", "/compute/v2.1/flavors/{flavor_id}"): RouteNotes(successes={"202": _empty("Deleted")}),
    ("delete", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}"): RouteNotes(
        successes={"200": _empty("Deleted")}
    ),
    ("get", "/compute/v2.1/os-keypairs"): RouteNotes(query=(*_PAGING, "user_id")),
    ("post", "/compute/v2.1/os-keypairs"): RouteNotes(
        successes={"200": _json("The key pair (up to 2.1)"), "201": _json("The key pair (from 2.2)")}
    ),
    ("get", "/compute/v2.1/os-keypairs/{name}"): RouteNotes(query=("user_id",)),
    ("delete", "/compute/v2.1/os-keypairs/{name}"): RouteNotes(
        successes={"202": _empty("Deleted (up to 2.1)"), "204": _empty("Deleted (from 2.2)")},
        query=("user_id",),
    ),
    ("get", "/compute/v2.1/limits"): RouteNotes(query=("tenant_id",)),
    ("get", "/compute/v2.1/os-quota-sets/{project_id}"): RouteNotes(query=("user_id",)),
    ("get", "/compute/v2.1/os-quota-sets/{project_id}/detail"): RouteNotes(query=("user_id",)),
    ("put", "/compute/v2.1/os-quota-sets/{project_id}"): RouteNotes(query=("user_id",)),
    ("delete", "/compute/v2.1/os-quota-sets/{project_id}"): RouteNotes(
        successes={"202": _empty("Reset to the defaults")}, query=("user_id",)
    ),
    ("delete", "/compute/v2.1/os-aggregates/{aggregate_id}"): RouteNotes(
        successes={"200": _empty("Deleted")}
    ),
    ("get", "/compute/v2.1/os-hypervisors"): RouteNotes(query=_HYPERVISOR_QUERY),
    ("get", "/compute/v2.1/os-hypervisors/detail"): RouteNotes(query=_HYPERVISOR_QUERY),
    ("get", "/compute/v2.1/os-migrations"): RouteNotes(query=_MIGRATION_QUERY),
    ("get", "/compute/v2.1/os-server-groups"): RouteNotes(query=("all_projects", "limit", "offset")),
    ("get", "/compute/v2.1/os-services"): RouteNotes(query=("binary", "host")),
    ("get", "/compute/v2.1/os-simple-tenant-usage"): RouteNotes(query=(*_PAGING, "start", "end", "detailed")),
    ("get", "/compute/v2.1/os-simple-tenant-usage/{tenant_id}"): RouteNotes(query=(*_PAGING, "start", "end")),
}

# Neutron: {"NeutronError": {"type": "NetworkNotFound", "message": "...", "detail": ""}}.
NEUTRON_ERROR: Schema = {
    "type": "object",
    "required": ["NeutronError"],
    "properties": {
        "NeutronError": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "detail": {"type": "string"},
            },
        }
    },
}
# A PUT or DELETE with If-Match: revision_number=N acts only on that revision.
_REVISED = RouteNotes(errors=(412,))
NETWORKING_ROUTES: dict[tuple[str, str], RouteNotes] = {
    (method, f"/networking/v2.0/{collection}/{{{key}}}"): _REVISED
    for collection, key in (
        ("networks", "network_id"),
        ("subnets", "subnet_id"),
        ("ports", "port_id"),
        ("security-groups", "security_group_id"),
        ("routers", "router_id"),
        ("floatingips", "floatingip_id"),
        ("subnetpools", "subnetpool_id"),
    )
    for method in ("put", "delete")
} | {
    # Adding a tag answers 201 with no body, as Neutron's.
    ("put", f"/networking/v2.0/{collection}/{{resource_id}}/tags/{{tag}}"): RouteNotes(
        successes={"201": _empty("Tagged")}
    )
    for collection in TAGGED_COLLECTIONS
}
# The deployment's lists, filtered by queries their routes read by hand.
NETWORKING_ROUTES |= {
    ("get", "/networking/v2.0/availability_zones"): RouteNotes(
        query=("name", "resource", "state", "availability_zone", "agent_type", "fields")
    ),
    ("get", "/networking/v2.0/service-providers"): RouteNotes(
        query=("service_type", "name", "default", "fields")
    ),
}

COMPUTE = APIDocument(
    title="Overcast Compute API",
    version=f"2.1 (microversions {MIN_VERSION} to {MAX_VERSION})",
    url="/compute/v2.1/openapi.json",
    path_prefix="/compute",
    error_content={JSON: {"schema": NOVA_ERROR}},
    statuses_everywhere=(406,),
    routes=COMPUTE_ROUTES,
)
IDENTITY = APIDocument(
    title="Overcast Identity API",
    version="3",
    url="/identity/v3/openapi.json",
    path_prefix="/identity",
    error_content={JSON: {"schema": KEYSTONE_ERROR}},
    routes=IDENTITY_ROUTES,
)
IMAGE_API = APIDocument(
    title="Overcast Image API",
    version="2",
    url="/image/v2/openapi.json",
    path_prefix="/image",
    error_content={JSON: {"schema": GLANCE_ERROR}, "text/html": {"schema": {"type": "string"}}},
    routes=IMAGE_ROUTES,
)
NETWORKING = APIDocument(
    title="Overcast Networking API",
    version="2.0",
    url="/networking/v2.0/openapi.json",
    path_prefix="/networking",
    error_content={JSON: {"schema": NEUTRON_ERROR}},
    routes=NETWORKING_ROUTES,
)
# Cinder's microversion header, and its routes that read their bodies and queries by hand or answer with
# a bare Response. Paths are the project form; the same routes below /volume/v3 are left out of the
# document (one URL form is enough to describe and fuzz them).
_V3 = "/volume/v3/{project_id}"
_VOLUME_MINORS = "|".join(str(minor) for minor in range(VOLUME_MIN.minor, VOLUME_MAX.minor + 1))
VOLUME_VERSION_PARAMETER: Schema = {
    "name": VOLUME_HEADER,
    "in": "header",
    "required": False,
    "description": f"`volume X.Y` from {VOLUME_MIN} to {VOLUME_MAX}, or `volume latest` (none: 3.0).",
    "schema": {"type": "string", "pattern": rf"^volume (3\.({_VOLUME_MINORS})|latest)$"},
}
_VOLUME_LIST_QUERY = (
    "all_tenants", "project_id", "sort", "sort_key", "sort_dir", "limit", "marker", "with_count", "name",
    "name~", "status", "metadata", "bootable", "availability_zone", "size", "volume_type", "group_id",
)  # fmt: skip


def _one_key(key: str, value: Schema = AN_OBJECT) -> Schema:
    return _body({"type": "object", "required": [key], "properties": {key: value}})


VOLUME_CREATE: Schema = {
    "type": "object",
    "required": ["size"],
    "properties": {
        "size": {"type": ["integer", "string"]},
        "name": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "volume_type": {"type": ["string", "null"]},
        "availability_zone": {"type": ["string", "null"]},
        "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "snapshot_id": {"type": ["string", "null"]},
        "source_volid": {"type": ["string", "null"]},
        "imageRef": {"type": ["string", "null"]},
        "backup_id": {"type": ["string", "null"]},
        "multiattach": {"type": "boolean"},
    },
}
_BARE_202 = RouteNotes(successes={"202": _empty("Accepted")})
_GROUP_LIST_QUERY = ("all_tenants", "sort", "sort_key", "sort_dir", "limit", "marker", "name", "status")
_DEFAULT_TYPE_SET: Schema = {
    "type": "object",
    "required": ["volume_type"],
    "properties": {"volume_type": {"type": "string"}},
    "additionalProperties": False,
}
VOLUME_ROUTES: dict[tuple[str, str], RouteNotes] = {
    ("get", "/volume"): _VERSIONS,
    ("post", f"{_V3}/volumes"): RouteNotes(body=_one_key("volume", VOLUME_CREATE)),
    ("get", f"{_V3}/volumes"): RouteNotes(query=_VOLUME_LIST_QUERY),
    ("get", f"{_V3}/volumes/detail"): RouteNotes(query=_VOLUME_LIST_QUERY),
    ("get", f"{_V3}/volumes/summary"): RouteNotes(query=("all_tenants",)),
    ("put", f"{_V3}/volumes/{{volume_id}}"): RouteNotes(body=_one_key("volume")),
    ("delete", f"{_V3}/volumes/{{volume_id}}"): RouteNotes(
        successes={"202": _empty("Deleting")}, query=("cascade", "force")
    ),
    ("post", f"{_V3}/volumes/{{volume_id}}/action"): RouteNotes(
        body=_body({"type": "object", "minProperties": 1, "maxProperties": 1}),
        successes={
            "200": _empty("Done (os-initialize_connection and the image metadata actions answer with JSON)"),
            "202": _empty("Accepted (os-volume_upload_image answers with a JSON object)"),
        },
    ),
    ("post", f"{_V3}/volumes/{{volume_id}}/metadata"): RouteNotes(body=_one_key("metadata")),
    ("put", f"{_V3}/volumes/{{volume_id}}/metadata"): RouteNotes(body=_one_key("metadata")),
    ("put", f"{_V3}/volumes/{{volume_id}}/metadata/{{key}}"): RouteNotes(body=_one_key("meta")),
    ("delete", f"{_V3}/volumes/{{volume_id}}/metadata/{{key}}"): RouteNotes(
        successes={"200": _empty("Deleted")}
    ),
    ("post", f"{_V3}/attachments"): RouteNotes(body=_one_key("attachment")),
    ("get", f"{_V3}/attachments"): RouteNotes(query=("volume_id", "instance_id", "all_tenants")),
    ("get", f"{_V3}/attachments/detail"): RouteNotes(query=("volume_id", "instance_id", "all_tenants")),
    ("put", f"{_V3}/attachments/{{attachment_id}}"): RouteNotes(body=_one_key("attachment")),
    ("post", f"{_V3}/attachments/{{attachment_id}}/action"): RouteNotes(
        body=_body({"type": "object", "required": ["os-complete"]}), successes={"204": _empty("Attached")}
    ),
    ("get", f"{_V3}/types"): RouteNotes(query=("is_public",)),
    ("post", f"{_V3}/types"): RouteNotes(body=_one_key("volume_type")),
    ("put", f"{_V3}/types/{{type_id}}"): RouteNotes(body=_one_key("volume_type")),
    ("delete", f"{_V3}/types/{{type_id}}"): _BARE_202,
    ("post", f"{_V3}/types/{{type_id}}/extra_specs"): RouteNotes(body=_one_key("extra_specs")),
    ("put", f"{_V3}/types/{{type_id}}/extra_specs/{{key}}"): RouteNotes(body=_body(AN_OBJECT)),
    ("delete", f"{_V3}/types/{{type_id}}/extra_specs/{{key}}"): _BARE_202,
    ("post", f"{_V3}/types/{{type_id}}/action"): RouteNotes(
        body=_body({"type": "object", "minProperties": 1, "maxProperties": 1}),
        successes={"202": _empty("Done")},
    ),
    ("put", f"{_V3}/default-types/{{target_project_id}}"): RouteNotes(
        body=_one_key("default_type", _DEFAULT_TYPE_SET)
    ),
    ("delete", f"{_V3}/default-types/{{target_project_id}}"): RouteNotes(successes={"204": _empty("Unset")}),
    ("get", f"{_V3}/group_types"): RouteNotes(query=("is_public",)),
    ("post", f"{_V3}/group_types"): RouteNotes(body=_one_key("group_type")),
    ("put", f"{_V3}/group_types/{{group_type_id}}"): RouteNotes(body=_one_key("group_type")),
    ("delete", f"{_V3}/group_types/{{group_type_id}}"): _BARE_202,
    ("post", f"{_V3}/group_types/{{group_type_id}}/group_specs"): RouteNotes(body=_one_key("group_specs")),
    ("put", f"{_V3}/group_types/{{group_type_id}}/group_specs/{{key}}"): RouteNotes(body=_body(AN_OBJECT)),
    ("delete", f"{_V3}/group_types/{{group_type_id}}/group_specs/{{key}}"): _BARE_202,
    ("post", f"{_V3}/groups"): RouteNotes(body=_one_key("group")),
    ("post", f"{_V3}/groups/action"): RouteNotes(body=_one_key("create-from-src")),
    ("get", f"{_V3}/groups"): RouteNotes(query=_GROUP_LIST_QUERY),
    ("get", f"{_V3}/groups/detail"): RouteNotes(query=(*_GROUP_LIST_QUERY, "list_volume")),
    ("get", f"{_V3}/groups/{{group_id}}"): RouteNotes(query=("list_volume",)),
    ("put", f"{_V3}/groups/{{group_id}}"): RouteNotes(
        body=_one_key("group"), successes={"202": _empty("Updated")}
    ),
    ("post", f"{_V3}/groups/{{group_id}}/action"): RouteNotes(
        body=_body({"type": "object", "minProperties": 1, "maxProperties": 1}),
        successes={"202": _empty("Done")},
    ),
    ("post", f"{_V3}/group_snapshots"): RouteNotes(body=_one_key("group_snapshot")),
    ("get", f"{_V3}/group_snapshots"): RouteNotes(query=(*_GROUP_LIST_QUERY, "group_id")),
    ("get", f"{_V3}/group_snapshots/detail"): RouteNotes(query=(*_GROUP_LIST_QUERY, "group_id")),
    ("delete", f"{_V3}/group_snapshots/{{group_snapshot_id}}"): _BARE_202,
    ("post", f"{_V3}/group_snapshots/{{group_snapshot_id}}/action"): RouteNotes(
        body=_one_key("reset_status"), successes={"202": _empty("Reset")}
    ),
    ("post", f"{_V3}/qos-specs"): RouteNotes(body=_one_key("qos_specs")),
    ("put", f"{_V3}/qos-specs/{{qos_id}}"): RouteNotes(body=_one_key("qos_specs")),
    ("put", f"{_V3}/qos-specs/{{qos_id}}/delete_keys"): RouteNotes(
        body=_one_key("keys", {"type": "array", "items": {"type": "string"}}),
        successes={"202": _empty("Done")},
    ),
    ("delete", f"{_V3}/qos-specs/{{qos_id}}"): RouteNotes(
        successes={"202": _empty("Deleted")}, query=("force",)
    ),
    ("get", f"{_V3}/qos-specs/{{qos_id}}/associate"): RouteNotes(
        successes={"202": _empty("Associated")}, query=("vol_type_id",)
    ),
    ("get", f"{_V3}/qos-specs/{{qos_id}}/disassociate"): RouteNotes(
        successes={"202": _empty("Disassociated")}, query=("vol_type_id",)
    ),
    ("get", f"{_V3}/qos-specs/{{qos_id}}/disassociate_all"): RouteNotes(successes={"202": _empty("Done")}),
    ("get", f"{_V3}/os-quota-sets/{{target_project_id}}"): RouteNotes(query=("usage",)),
    ("put", f"{_V3}/os-quota-sets/{{target_project_id}}"): RouteNotes(body=_one_key("quota_set")),
    ("delete", f"{_V3}/os-quota-sets/{{target_project_id}}"): RouteNotes(successes={"200": _empty("Reset")}),
    ("get", f"{_V3}/limits"): RouteNotes(query=("project_id",)),
    ("get", f"{_V3}/os-services"): RouteNotes(query=("host", "binary")),
    ("get", f"{_V3}/resource_filters"): RouteNotes(query=("resource",)),
    # The snapshots, backups and transfers routers' bare answers.
    ("delete", f"{_V3}/snapshots/{{snapshot_id}}"): _BARE_202,
    ("post", f"{_V3}/snapshots/{{snapshot_id}}/action"): _BARE_202,
    ("delete", f"{_V3}/snapshots/{{snapshot_id}}/metadata/{{key}}"): RouteNotes(
        successes={"200": _empty("Deleted")}
    ),
    ("delete", f"{_V3}/backups/{{backup_id}}"): _BARE_202,
    ("post", f"{_V3}/backups/{{backup_id}}/action"): _BARE_202,
    ("delete", f"{_V3}/os-volume-transfer/{{transfer_id}}"): _BARE_202,
    ("delete", f"{_V3}/volume-transfers/{{transfer_id}}"): _BARE_202,
}
BLOCK_STORAGE = APIDocument(
    title="Overcast Block Storage API",
    version=f"3 (microversions {VOLUME_MIN} to {VOLUME_MAX})",
    url="/volume/v3/openapi.json",
    path_prefix="/volume",
    error_content={JSON: {"schema": NOVA_ERROR}},
    statuses_everywhere=(406, 413),
    routes=VOLUME_ROUTES,
)
BILLING = APIDocument(
    title="Overcast Billing API",
    version="1",
    url="/billing/v1/openapi.json",
    path_prefix="/billing",
    error_content={JSON: {"schema": NOVA_ERROR}},
    routes={key: RouteNotes(**notes) for key, notes in billing_document.ROUTE_NOTES.items()},
)
PORTAL = APIDocument(
    title="Overcast Portal API",
    version="1",
    url="/portal/v1/openapi.json",
    path_prefix="/portal",
    error_content={JSON: {"schema": KEYSTONE_ERROR}},
    routes={key: RouteNotes(**notes) for key, notes in portal_document.ROUTE_NOTES.items()},
)
# CloudKitty (Flask-RESTful): {"message": "..."}.
CLOUDKITTY_ERROR: Schema = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
    "additionalProperties": False,
}
RATING = APIDocument(
    title="Overcast Rating API (CloudKitty v2's summary and dataframes)",
    version="2",
    url="/rating/v2/openapi.json",
    path_prefix="/rating",
    error_content={JSON: {"schema": CLOUDKITTY_ERROR}},
    routes={
        ("get", "/rating/v2/summary"): RouteNotes(query=SUMMARY_PARAMETERS),
        ("get", "/rating/v2/dataframes"): RouteNotes(query=DATAFRAMES_PARAMETERS),
    },
)
# No document for /metadata: guests reach it only through the agent's proxy, which signs each request
# (X-Instance-ID-Signature); it is not an API a client with a token calls, nor a Keystone-catalogued one.
DOCUMENTS: tuple[APIDocument, ...] = (
    COMPUTE, IDENTITY, IMAGE_API, NETWORKING, BLOCK_STORAGE, BILLING, PORTAL, RATING,
)  # fmt: skip

PUBLIC_PATHS = readable_without_token(*(document.url for document in DOCUMENTS))


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _error_statuses(
    document: APIDocument, method: str, path: str, operation: Schema, extra: tuple[int, ...], public: bool
) -> list[int]:
    statuses = [400, 404, *document.statuses_everywhere, *extra]
    if not (public and method in READS):
        statuses.append(401)
    if not public:
        statuses.append(403)
    if method not in READS:
        statuses.append(409)
    if "requestBody" in operation:
        statuses.append(413)
    return sorted(set(statuses))


def _honest_success(responses: Schema) -> None:
    """A response FastAPI could not describe (no model) is a JSON object, not "anything"."""
    for status, response in responses.items():
        content = response.get("content")
        if not content:
            continue
        if status in ("204", "304") or status[0] not in "23":
            continue
        json_content = content.get(JSON)
        if json_content is not None and not json_content.get("schema"):
            json_content["schema"] = {"type": "object"}


def _query_parameter(name: str) -> Schema:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": "Read by the route itself, as the OpenStack API reference describes it.",
        "schema": {"type": "string"},
    }


def _operations(paths: Schema) -> Iterator[tuple[str, str, Schema]]:
    for path, item in paths.items():
        for method, operation in item.items():
            yield path, method, operation


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _used_schemas(paths: Schema, schemas: Schema) -> Schema:
    """The component schemas `paths` refer to, directly or through other components."""
    used: Schema = {}
    pending = list(_refs(paths))
    while pending:
        name = pending.pop()
        if name in used or name not in schemas:
            continue
        used[name] = schemas[name]
        pending.extend(_refs(schemas[name]))
    return dict(sorted(used.items()))


def build_document(whole: Schema, document: APIDocument, base_url: str, public_paths: PublicPaths) -> Schema:
    """`document`'s part of FastAPI's `whole` app document, completed as this module explains."""
    paths = {
        path: copy.deepcopy(item)
        for path, item in whole["paths"].items()
        if _covers(document.path_prefix, path)
    }
    for path, method, operation in _operations(paths):
        notes = document.routes.get((method, path), RouteNotes())
        responses = operation["responses"]
        responses.pop("422", None)
        if notes.successes is not None:
            responses = operation["responses"] = copy.deepcopy(notes.successes)
        responses.update(copy.deepcopy(notes.responses))
        if notes.body is not None:
            operation["requestBody"] = {"required": True, "content": copy.deepcopy(notes.body)}
        parameters = operation.setdefault("parameters", [])
        declared = {parameter["name"] for parameter in parameters}
        parameters.extend(_query_parameter(name) for name in notes.query if name not in declared)
        if document is COMPUTE and _covers(f"{document.path_prefix}/v2.1", path):
            parameters.append(copy.deepcopy(COMPUTE_VERSION_PARAMETER))
        if document is BLOCK_STORAGE and _covers("/volume/v3", path):
            parameters.append(copy.deepcopy(VOLUME_VERSION_PARAMETER))
        if not parameters:
            del operation["parameters"]
        _honest_success(responses)
        public = public_paths.allows(method.upper(), path)
        for status in _error_statuses(document, method, path, operation, notes.errors, public):
            responses[str(status)] = {
                "description": _ERROR_DESCRIPTIONS.get(status) or HTTPStatus(status).phrase,
                "content": copy.deepcopy(document.error_content),
            }
        if public:
            operation["security"] = []
    schemas = {
        name: schema
        for name, schema in whole.get("components", {}).get("schemas", {}).items()
        if name not in ("HTTPValidationError", "ValidationError")
    }
    schemas.update(copy.deepcopy(SERVER_ACTION_DEFINITIONS))
    return {
        "openapi": whole["openapi"],
        "info": {"title": document.title, "version": document.version},
        "servers": [{"url": base_url}],
        "paths": paths,
        "components": {"schemas": _used_schemas(paths, schemas), "securitySchemes": _SECURITY_SCHEMES},
        "security": [{SECURITY_SCHEME: []}],
    }


def documents(app: FastAPI) -> dict[str, Schema]:
    """Every API's document by its URL, built once from the app's routes (they never change once served)."""
    built: dict[str, Schema] | None = getattr(app.state, "openapi_documents", None)
    if built is None:
        whole = get_openapi(title=app.title, version=app.version, routes=app.routes)
        base_url = app.state.settings.base_url
        public_paths: PublicPaths = app.state.public_paths
        built = {
            document.url: build_document(whole, document, base_url, public_paths) for document in DOCUMENTS
        }
        app.state.openapi_documents = built
    return built


_NOT_A_NAME = re.compile(r"[^A-Za-z0-9_]")


def install(app: FastAPI) -> None:
    """Serve each API's document at its URL; call it after every API's routes are mounted."""
    for document in DOCUMENTS:
        name = _NOT_A_NAME.sub("_", document.url.strip("/"))
        app.add_api_route(
            document.url, _server_of(document.url), methods=["GET"], include_in_schema=False, name=name
        )


def _server_of(url: str) -> Callable[[Request], JSONResponse]:
    def serve(request: Request) -> JSONResponse:
        return JSONResponse(documents(request.app)[url])

    return serve
