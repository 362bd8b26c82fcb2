"""OpenAPI 3.1 documents of each OpenStack API the app serves, readable without a token.

FastAPI builds the paths, parameters and schemas from the routes and their request and response models;
this module cuts that one document into one per API (the paths below its prefix, with the components
they refer to) and adds what FastAPI cannot know: the `X-Auth-Token` security scheme (none on the
public paths), the compute microversion header, the errors each API really answers with, in its own
body shape (Nova's, Keystone's or Glance's, never FastAPI's 422), and the image bodies that Glance's
routes read by hand (their shapes come from the image API's own JSON schemas). A response without a
model is documented as what it is, a JSON object, so a client or a fuzzer can check every answer.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from overcast.api.auth import is_public, register_public_path
from overcast.api.openstack.compute import action_schemas, server_actions, server_filters
from overcast.api.openstack.compute.microversion import LEGACY_HEADER, MAX_VERSION, MIN_VERSION, NEW_HEADER
from overcast.api.openstack.image.images import PATCH_MEDIA_TYPE
from overcast.api.openstack.image.schemas import IMAGE_PROPERTIES, MEMBER_PROPERTIES
from overcast.compute.server_queries import EXACT_FILTERS, INTEGER_FILTERS, REGEX_FILTERS
from overcast.image.registry import MEMBER_STATUSES

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
class APIDocument:
    """One API's document: where it is served, which paths it covers and how its errors look."""

    title: str
    version: str
    url: str
    path_prefix: str
    error_content: Schema
    statuses_everywhere: tuple[int, ...] = ()
    operation_extras: dict[tuple[str, str], Schema] = field(default_factory=dict)


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
IMAGE_MEMBER: Schema = {"type": "object", "properties": MEMBER_PROPERTIES}
OCTETS: Schema = {"type": "string", "format": "binary"}


def _json(schema: Schema, description: str = "") -> Schema:
    return {"description": description or "OK", "content": {JSON: {"schema": schema}}}


def _body(media_type: str, schema: Schema) -> Schema:
    return {"required": True, "content": {media_type: {"schema": schema}}}


def _octets(description: str) -> Schema:
    return {"description": description, "content": {"application/octet-stream": {"schema": OCTETS}}}


def _no_content(description: str = "No content") -> Schema:
    return {"description": description}


_VERSIONS_300: Schema = {
    "responses": {"300": _json({"type": "object"}, "The versions (Multiple Choices)")},
    "x-replace-success": True,
}
IDENTITY_OPERATIONS: dict[tuple[str, str], Schema] = {
    ("get", "/identity"): _VERSIONS_300,
    ("get", "/identity/"): _VERSIONS_300,
}

# Glance's routes read their bodies by hand (JSON-patch, raw data), so FastAPI sees none of them.
_IMAGE_ID = "/image/v2/images/{image_id}"
IMAGE_OPERATIONS: dict[tuple[str, str], Schema] = {
    ("get", "/image"): _VERSIONS_300,
    ("get", "/image/"): _VERSIONS_300,
    ("post", "/image/v2/images"): {
        "requestBody": _body(JSON, IMAGE_CREATE),
        "responses": {"201": _json(IMAGE, "The new image")},
    },
    ("get", _IMAGE_ID): {"responses": {"200": _json(IMAGE)}},
    ("patch", _IMAGE_ID): {
        "requestBody": _body(PATCH_MEDIA_TYPE, IMAGE_PATCH),
        "responses": {"200": _json(IMAGE, "The updated image")},
        "x-error-statuses": [415],
    },
    ("put", f"{_IMAGE_ID}/file"): {"requestBody": _body("application/octet-stream", OCTETS)},
    ("put", f"{_IMAGE_ID}/stage"): {"requestBody": _body("application/octet-stream", OCTETS)},
    ("get", f"{_IMAGE_ID}/file"): {
        "responses": {
            "200": _octets("The image data"),
            "206": _octets("The range asked for"),
            "204": _no_content("The image has no data"),
        }
    },
    ("post", f"{_IMAGE_ID}/import"): {
        "requestBody": _body(
            JSON,
            {
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
            },
        )
    },
    ("post", f"{_IMAGE_ID}/members"): {
        "requestBody": _body(
            JSON, {"type": "object", "required": ["member"], "properties": {"member": {"type": "string"}}}
        ),
        "responses": {"200": _json(IMAGE_MEMBER, "The new member")},
    },
    ("get", f"{_IMAGE_ID}/members/{{member_id}}"): {"responses": {"200": _json(IMAGE_MEMBER)}},
    ("put", f"{_IMAGE_ID}/members/{{member_id}}"): {
        "requestBody": _body(
            JSON,
            {
                "type": "object",
                "required": ["status"],
                "properties": {"status": {"type": "string", "enum": list(MEMBER_STATUSES)}},
            },
        ),
        "responses": {"200": _json(IMAGE_MEMBER, "The updated member")},
    },
}


def _model_schema(model: type[BaseModel]) -> Schema:
    """A request model's JSON schema; its definitions go to the document's components."""
    schema = model.model_json_schema(ref_template=COMPONENT_REF)
    _ACTION_DEFINITIONS.update(schema.pop("$defs", {}))
    return schema


COMPONENT_REF = "#/components/schemas/{model}"
_ACTION_DEFINITIONS: Schema = {}
# The models each server action's value is validated with; the others take no value (null or {}).
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
SERVER_ACTION: Schema = {
    "type": "object",
    "description": "Exactly one action, named by the key; its value as the action's model reads it.",
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        name: _model_schema(_ACTION_MODELS[name])
        if name in _ACTION_MODELS
        else {"type": ["null", "object"], "maxProperties": 0}
        for name in server_actions.ACTIONS
    },
    "additionalProperties": False,
}
_EMPTY_SUCCESS: Schema = {"x-replace-success": True}
# Routes that answer with a bare Response (no body) or whose status depends on the microversion.
COMPUTE_OPERATIONS: dict[tuple[str, str], Schema] = {
    ("post", "/compute/v2.1/servers/{server_id}/action"): {
        "requestBody": _body(JSON, SERVER_ACTION),
        **_EMPTY_SUCCESS,
        "responses": {
            "200": _json({"type": "object"}, "The action's answer (console output, serial console)"),
            "202": _no_content("Accepted (rebuild and, from 2.45, createImage answer with a JSON object)"),
        },
    },
    ("post", "/compute/v2.1/os-keypairs"): {
        **_EMPTY_SUCCESS,
        "responses": {
            "200": _json({"type": "object"}, "The key pair (up to 2.1)"),
            "201": _json({"type": "object"}, "The key pair (from 2.2)"),
        },
    },
    ("delete", "/compute/v2.1/os-keypairs/{name}"): {
        **_EMPTY_SUCCESS,
        "responses": {"202": _no_content("Deleted (up to 2.1)"), "204": _no_content("Deleted (from 2.2)")},
    },
    ("delete", "/compute/v2.1/os-quota-sets/{project_id}"): {
        **_EMPTY_SUCCESS,
        "responses": {"202": _no_content("Reset to the defaults")},
    },
    ("delete", "/compute/v2.1/flavors/{flavor_id}"): {
        **_EMPTY_SUCCESS,
        "responses": {"202": _no_content("Deleted")},
    },
    ("delete", "/compute/v2.1/os-aggregates/{aggregate_id}"): {
        **_EMPTY_SUCCESS,
        "responses": {"200": _no_content("Deleted")},
    },
    ("delete", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}"): {
        **_EMPTY_SUCCESS,
        "responses": {"200": _no_content("Deleted")},
    },
    ("put", "/compute/v2.1/servers/{server_id}/tags/{tag}"): {
        **_EMPTY_SUCCESS,
        "responses": {"201": _no_content("Added"), "204": _no_content("The server had the tag already")},
    },
}

_SERVER_QUERY = sorted(
    server_filters.PAGING
    | server_filters.MEMBER_FILTERS
    | server_filters.SPECIAL_FILTERS
    | set(EXACT_FILTERS)
    | set(INTEGER_FILTERS)
    | set(REGEX_FILTERS)
)
_PAGING = ("limit", "marker")
_FLAVOR_QUERY = (*_PAGING, "is_public", "sort_key", "sort_dir", "minRam", "minDisk")
# The query parameters of routes that read them from the request themselves (FastAPI cannot see them).
QUERY_PARAMETERS: dict[tuple[str, str], Sequence[str]] = {
    ("get", "/compute/v2.1/servers"): _SERVER_QUERY,
    ("get", "/compute/v2.1/servers/detail"): _SERVER_QUERY,
    ("get", "/compute/v2.1/flavors"): _FLAVOR_QUERY,
    ("get", "/compute/v2.1/flavors/detail"): _FLAVOR_QUERY,
    ("get", "/compute/v2.1/os-hypervisors"): (*_PAGING, "hypervisor_hostname_pattern", "with_servers"),
    ("get", "/compute/v2.1/os-hypervisors/detail"): (*_PAGING, "hypervisor_hostname_pattern", "with_servers"),
    ("get", "/compute/v2.1/servers/{server_id}/os-instance-actions"): (*_PAGING, "changes-since"),
    ("get", "/compute/v2.1/os-keypairs"): (*_PAGING, "user_id"),
    ("get", "/compute/v2.1/os-keypairs/{name}"): ("user_id",),
    ("delete", "/compute/v2.1/os-keypairs/{name}"): ("user_id",),
    ("get", "/compute/v2.1/limits"): ("tenant_id",),
    ("get", "/compute/v2.1/os-migrations"): (
        *_PAGING, "changes-since", "hidden", "host", "source_compute", "status", "instance_uuid",
        "migration_type",
    ),
    ("get", "/compute/v2.1/os-server-groups"): ("all_projects", "limit", "offset"),
    ("get", "/compute/v2.1/os-services"): ("binary", "host"),
    ("get", "/compute/v2.1/os-simple-tenant-usage"): (*_PAGING, "start", "end", "detailed"),
    ("get", "/compute/v2.1/os-simple-tenant-usage/{tenant_id}"): (*_PAGING, "start", "end"),
    ("get", "/compute/v2.1/os-quota-sets/{project_id}"): ("user_id",),
    ("get", "/image/v2/images"): (
        *_PAGING, "name", "status", "visibility", "owner", "member_status", "tag", "disk_format",
        "container_format", "size_min", "size_max", "changes-since", "protected", "os_hidden", "id",
        "sort", "sort_key", "sort_dir", "created_at", "updated_at",
    ),
}  # fmt: skip

COMPUTE = APIDocument(
    title="Overcast Compute API",
    version=f"2.1 (microversions {MIN_VERSION} to {MAX_VERSION})",
    url="/compute/v2.1/openapi.json",
    path_prefix="/compute",
    error_content={JSON: {"schema": NOVA_ERROR}},
    statuses_everywhere=(406,),
    operation_extras=COMPUTE_OPERATIONS,
)
IDENTITY = APIDocument(
    title="Overcast Identity API",
    version="3",
    url="/identity/v3/openapi.json",
    path_prefix="/identity",
    error_content={JSON: {"schema": KEYSTONE_ERROR}},
    operation_extras=IDENTITY_OPERATIONS,
)
IMAGE_API = APIDocument(
    title="Overcast Image API",
    version="2",
    url="/image/v2/openapi.json",
    path_prefix="/image",
    error_content={JSON: {"schema": GLANCE_ERROR}, "text/html": {"schema": {"type": "string"}}},
    operation_extras=IMAGE_OPERATIONS,
)
DOCUMENTS: tuple[APIDocument, ...] = (COMPUTE, IDENTITY, IMAGE_API)

for _document in DOCUMENTS:
    register_public_path(_document.url, methods=("GET", "HEAD"))


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


def _error_statuses(document: APIDocument, method: str, path: str, operation: Schema) -> list[int]:
    public = is_public(method.upper(), path)
    statuses = [400, 404, *document.statuses_everywhere, *operation.pop("x-error-statuses", [])]
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


def build_document(whole: Schema, document: APIDocument, base_url: str) -> Schema:
    """`document`'s part of FastAPI's `whole` app document, completed as this module explains."""
    paths = {
        path: copy.deepcopy(item)
        for path, item in whole["paths"].items()
        if _covers(document.path_prefix, path)
    }
    for path, method, operation in _operations(paths):
        extras = copy.deepcopy(document.operation_extras.get((method, path), {}))
        operation["responses"].pop("422", None)
        if extras.pop("x-replace-success", False):
            # The route answers with another success status than its decorator's.
            operation["responses"] = {}
        operation["responses"].update(extras.pop("responses", {}))
        operation.update(extras)
        declared = {parameter["name"] for parameter in operation.get("parameters", [])}
        for name in QUERY_PARAMETERS.get((method, path), ()):
            if name not in declared:
                operation.setdefault("parameters", []).append(_query_parameter(name))
        if document is COMPUTE and _covers(f"{document.path_prefix}/v2.1", path):
            operation.setdefault("parameters", []).append(copy.deepcopy(COMPUTE_VERSION_PARAMETER))
        _honest_success(operation["responses"])
        for status in _error_statuses(document, method, path, operation):
            operation["responses"][str(status)] = {
                "description": _ERROR_DESCRIPTIONS[status],
                "content": copy.deepcopy(document.error_content),
            }
        if is_public(method.upper(), path):
            operation["security"] = []
    schemas = {
        name: schema
        for name, schema in whole.get("components", {}).get("schemas", {}).items()
        if name not in ("HTTPValidationError", "ValidationError")
    }
    schemas.update(copy.deepcopy(_ACTION_DEFINITIONS))
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
        built = {document.url: build_document(whole, document, base_url) for document in DOCUMENTS}
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
