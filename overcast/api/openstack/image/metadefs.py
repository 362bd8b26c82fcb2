"""/image/v2/metadefs: namespaces with their objects, properties, tags and resource type associations,
the resource types, and the /v2/schemas/metadefs/* documents."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast import errors
from overcast.api.deps import get_context
from overcast.api.openstack.image import views
from overcast.api.openstack.image.errors import GlanceRoute
from overcast.api.openstack.image.images import json_body, service
from overcast.context import RequestContext
from overcast.db.models.image_catalog import MetadefObject, MetadefProperty, MetadefTag
from overcast.image import metadef_schemas
from overcast.image.metadefs import MetadefAPI, Row

router = APIRouter(route_class=GlanceRoute)
NAMESPACES = "/image/v2/metadefs/namespaces"
NAMESPACE = NAMESPACES + "/{namespace_name}"
SCHEMAS = "/v2/schemas/metadefs"


def metadefs(request: Request) -> MetadefAPI:
    return service(request).metadefs


def rendered(body: Any) -> Any:
    """Timestamps as Glance writes them (ISO 8601, seconds, Z), wherever they sit in the body."""
    if isinstance(body, dict):
        return {key: views.timestamp(value) if isinstance(value, datetime) else rendered(value)
                for key, value in body.items()}  # fmt: skip
    if isinstance(body, list):
        return [rendered(item) for item in body]
    return body


def _self(*parts: str) -> str:
    return "/v2/metadefs/namespaces/" + "/".join(quote(part, safe="") for part in parts)


def namespace_view(body: dict[str, Any]) -> dict[str, Any]:
    name = body["namespace"]
    for obj in body.get("objects", ()):
        obj.update(schema=f"{SCHEMAS}/object", self=_self(name, "objects", obj["name"]))
    return rendered({**body, "self": _self(name), "schema": f"{SCHEMAS}/namespace"})


# --- namespaces -----------------------------------------------------------------------------------
@router.get(NAMESPACES)
def list_namespaces(request: Request, ctxt: RequestContext = Depends(get_context)) -> Any:
    query = request.query_params
    visibility = query.get("visibility")
    if visibility is not None and visibility not in metadef_schemas.VISIBILITIES:
        raise errors.BadRequest(f"Invalid visibility value: {visibility}")
    wanted = [name for value in query.getlist("resource_types") for name in value.split(",") if name]
    found = metadefs(request).list_namespaces(ctxt, visibility, wanted)
    marker, limit = query.get("marker"), query.get("limit")
    if marker is not None:
        names = [item["namespace"] for item in found]
        if marker not in names:
            raise errors.NotFound(f"Metadata definition namespace={marker} was not found.")
        found = found[names.index(marker) + 1 :]
    body: dict[str, Any] = {"first": "/v2/metadefs/namespaces", "schema": f"{SCHEMAS}/namespaces"}
    if limit is not None:
        if not limit.isdigit():
            raise errors.BadRequest("limit param must be a positive integer")
        if 0 < int(limit) < len(found):
            found = found[: int(limit)]
            body["next"] = f"/v2/metadefs/namespaces?marker={quote(found[-1]['namespace'])}&limit={limit}"
    return {"namespaces": [namespace_view(item) for item in found], **body}


@router.post(NAMESPACES, status_code=201)
async def create_namespace(request: Request, ctxt: RequestContext = Depends(get_context)) -> Response:
    body = await json_body(request)
    created = metadefs(request).create_namespace(ctxt, body)
    return JSONResponse(namespace_view(created), status_code=201)


@router.get(NAMESPACE)
def show_namespace(namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Any:
    resource_type = request.query_params.get("resource_type")
    return namespace_view(metadefs(request).get_namespace(ctxt, namespace_name, resource_type))


@router.put(NAMESPACE)
async def update_namespace(
    namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Any:
    body = await json_body(request)
    return namespace_view(metadefs(request).update_namespace(ctxt, namespace_name, body))


@router.delete(NAMESPACE, status_code=204)
def delete_namespace(
    namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    metadefs(request).delete_namespace(ctxt, namespace_name)
    return Response(status_code=204)


# --- objects, properties and tags -----------------------------------------------------------------
KINDS: dict[str, type[Row]] = {"objects": MetadefObject, "properties": MetadefProperty, "tags": MetadefTag}


def item_view(namespace: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
    if kind == "objects":
        body = {**body, "schema": f"{SCHEMAS}/object", "self": _self(namespace, "objects", body["name"])}
    return rendered(body)


def listing(namespace: str, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    if kind == "properties":
        shown: Any = {item["name"]: {k: v for k, v in item.items() if k != "name"} for item in items}
        return {"properties": rendered(shown), "schema": f"{SCHEMAS}/properties"}
    body: dict[str, Any] = {kind: [item_view(namespace, kind, item) for item in items]}
    if kind == "objects":
        body["schema"] = f"{SCHEMAS}/objects"
    return body


def _install_kind(kind: str, model: type[Row]) -> None:
    """The routes of one kind of thing a namespace holds (objects, properties, tags)."""
    collection, item = f"{NAMESPACE}/{kind}", f"{NAMESPACE}/{kind}/{{name}}"

    @router.get(collection, name=f"list_metadef_{kind}")
    def list_items(namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)) -> Any:
        return listing(namespace_name, kind, metadefs(request).list_in(ctxt, model, namespace_name))

    @router.delete(collection, status_code=204, name=f"delete_all_metadef_{kind}")
    def delete_items(
        namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)
    ) -> Response:
        metadefs(request).delete_in(ctxt, model, namespace_name)
        return Response(status_code=204)

    @router.get(item, name=f"show_metadef_{kind}")
    def show_item(
        namespace_name: str, name: str, request: Request, ctxt: RequestContext = Depends(get_context)
    ) -> Any:
        return item_view(namespace_name, kind, metadefs(request).get_in(ctxt, model, namespace_name, name))

    @router.put(item, name=f"update_metadef_{kind}")
    async def update_item(
        namespace_name: str, name: str, request: Request, ctxt: RequestContext = Depends(get_context)
    ) -> Any:
        body = await json_body(request)
        return item_view(
            namespace_name, kind, metadefs(request).update_in(ctxt, model, namespace_name, name, body)
        )

    @router.delete(item, status_code=204, name=f"delete_metadef_{kind}")
    def delete_item(
        namespace_name: str, name: str, request: Request, ctxt: RequestContext = Depends(get_context)
    ) -> Response:
        metadefs(request).delete_in(ctxt, model, namespace_name, name)
        return Response(status_code=204)

    if kind == "tags":
        return

    @router.post(collection, status_code=201, name=f"create_metadef_{kind}")
    async def create_item(
        namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)
    ) -> Response:
        body = await json_body(request)
        created = metadefs(request).create_in(ctxt, model, namespace_name, body)
        return JSONResponse(item_view(namespace_name, kind, created), status_code=201)


for _kind_name, _model in KINDS.items():
    _install_kind(_kind_name, _model)


@router.post(NAMESPACE + "/tags", status_code=201)
async def set_tags(
    namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    body = await json_body(request)
    append = request.headers.get("x-openstack-append", "false").lower() == "true"
    tags = metadefs(request).replace_tags(ctxt, namespace_name, body, append)
    return JSONResponse({"tags": [{"name": tag["name"]} for tag in tags]}, status_code=201)


@router.post(NAMESPACE + "/tags/{name}", status_code=201)
def create_tag(
    namespace_name: str, name: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    created = metadefs(request).create_in(ctxt, MetadefTag, namespace_name, {"name": name})
    return JSONResponse(rendered(created), status_code=201)


@router.get(NAMESPACE + "/resource_types")
def list_associations(
    namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Any:
    return {"resource_type_associations": rendered(metadefs(request).list_associations(ctxt, namespace_name))}


@router.post(NAMESPACE + "/resource_types", status_code=201)
async def associate(
    namespace_name: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    body = await json_body(request)
    return JSONResponse(rendered(metadefs(request).associate(ctxt, namespace_name, body)), status_code=201)


@router.delete(NAMESPACE + "/resource_types/{name}", status_code=204)
def dissociate(
    namespace_name: str, name: str, request: Request, ctxt: RequestContext = Depends(get_context)
) -> Response:
    metadefs(request).dissociate(ctxt, namespace_name, name)
    return Response(status_code=204)


# --- resource types and schemas -------------------------------------------------------------------
@router.get("/image/v2/metadefs/resource_types")
def list_resource_types(request: Request, ctxt: RequestContext = Depends(get_context)) -> Any:
    return {"resource_types": rendered(metadefs(request).list_resource_types(ctxt))}


@router.get("/image/v2/schemas/metadefs/{name}")
def metadef_schema(name: str) -> Any:
    document = metadef_schemas.documents().get(name)
    if document is None:
        raise errors.NotFound(f"No metadefs schema named {name}.")
    return document
