"""/os-aggregates: CRUD and the add_host, remove_host and set_metadata actions (admins only).

Status codes are Nova's, including its historical 200s for create, delete and the actions.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Response

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.admin_common import (
    AdminRequest,
    admin_request,
    json_object,
    nova_time,
)
from overcast.api.openstack.compute.common import require_version
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.parameter_types import (
    AzName,
    Fqdn,
    MetadataWithNull,
    Name,
    NameWithLeadingTrailingSpaces,
    Uuid,
    check,
)
from overcast.compute import policies
from overcast.compute.api.aggregates import AggregateInfo

router = APIRouter()

RULES = policies.AGGREGATE_RULES


def aggregate_view(
    aggregate: AggregateInfo, version: APIVersion, *, with_members: bool = True
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "availability_zone": aggregate.availability_zone,
        "created_at": nova_time(aggregate.created_at),
        "deleted": False,
        "deleted_at": None,
        "id": aggregate.id,
        "name": aggregate.name,
        # Nova leaves updated_at null until the first change.
        "updated_at": None
        if aggregate.updated_at == aggregate.created_at
        else nova_time(aggregate.updated_at),
    }
    if version >= v.AGGREGATE_UUID:
        body["uuid"] = aggregate.uuid
    if with_members:
        body["hosts"] = list(aggregate.hosts)
        body["metadata"] = dict(aggregate.metadata)
    return body


def _name(value: Any) -> str:
    name: str = check(Name, "name", value)
    return name


def _renamed(value: Any) -> str:
    # An update (only) takes a name with spaces at its ends, which Nova strips (common.normalize_name).
    name: str = check(NameWithLeadingTrailingSpaces, "name", value)
    return name.strip()


def _zone(value: Any) -> str | None:
    zone: str | None = check(AzName | None, "availability_zone", value)
    return zone


def _only(fields: dict[str, Any], allowed: set[str], what: str) -> None:
    unexpected = sorted(set(fields) - allowed)
    if unexpected:
        raise errors.BadRequest(
            f"Invalid input for field/attribute {what}. Additional properties are not allowed "
            f"({', '.join(repr(name) for name in unexpected)} were unexpected)"
        )


@router.get("/os-aggregates")
def list_aggregates(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["index"])
    return {
        "aggregates": [
            aggregate_view(aggregate, req.compute.version) for aggregate in req.admin.aggregates.list()
        ]
    }


@router.post("/os-aggregates")
def create_aggregate(body: Any = Body(None), req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["create"])
    fields = json_object(body, "aggregate")
    _only(fields, {"name", "availability_zone"}, "aggregate")
    created = req.admin.aggregates.create(_name(fields.get("name")), _zone(fields.get("availability_zone")))
    return {"aggregate": aggregate_view(created, req.compute.version, with_members=False)}


@router.get("/os-aggregates/{aggregate_id}")
def show_aggregate(aggregate_id: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, RULES["show"])
    return {"aggregate": aggregate_view(req.admin.aggregates.get(aggregate_id), req.compute.version)}


@router.put("/os-aggregates/{aggregate_id}")
def update_aggregate(
    aggregate_id: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, RULES["update"])
    fields = json_object(body, "aggregate")
    _only(fields, {"name", "availability_zone"}, "aggregate")
    if not fields:
        raise errors.BadRequest(
            "Invalid input for field/attribute aggregate: name or availability_zone needed."
        )
    name = _renamed(fields["name"]) if "name" in fields else None
    zone_given = "availability_zone" in fields
    updated = req.admin.aggregates.update(
        aggregate_id, name, _zone(fields.get("availability_zone")), zone_given
    )
    return {"aggregate": aggregate_view(updated, req.compute.version)}


@router.delete("/os-aggregates/{aggregate_id}")
def delete_aggregate(aggregate_id: str, req: AdminRequest = Depends(admin_request)) -> Response:
    policy.enforce(req.context, RULES["delete"])
    req.admin.aggregates.delete(aggregate_id)
    return Response(status_code=200)


@router.post("/os-aggregates/{aggregate_id}/action")
def aggregate_action(
    aggregate_id: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    aggregates = req.admin.aggregates
    action = next(iter(body), None) if isinstance(body, dict) and len(body) == 1 else None
    if action == "add_host":
        policy.enforce(req.context, RULES["add_host"])
        fields = json_object(body, action)
        _only(fields, {"host"}, action)
        return {
            "aggregate": aggregate_view(
                aggregates.add_host(aggregate_id, check(Fqdn, "host", fields.get("host"))),
                req.compute.version,
            )
        }
    if action == "remove_host":
        policy.enforce(req.context, RULES["remove_host"])
        fields = json_object(body, action)
        _only(fields, {"host"}, action)
        host = check(Fqdn, "host", fields.get("host"))
        return {"aggregate": aggregate_view(aggregates.remove_host(aggregate_id, host), req.compute.version)}
    if action == "set_metadata":
        policy.enforce(req.context, RULES["set_metadata"])
        fields = json_object(body, action)
        _only(fields, {"metadata"}, action)
        metadata = check(MetadataWithNull, "metadata", fields.get("metadata"))
        return {
            "aggregate": aggregate_view(aggregates.set_metadata(aggregate_id, metadata), req.compute.version)
        }
    raise errors.BadRequest("There is no such action")


@router.post("/os-aggregates/{aggregate_id}/images", status_code=202)
def cache_images(
    aggregate_id: str, body: Any = Body(None), req: AdminRequest = Depends(admin_request)
) -> Response:
    """2.81: the aggregate's compute hosts fetch these images into their caches (in the background)."""
    require_version(req.compute, v.IMAGE_CACHE)
    policy.enforce(req.context, RULES["images"])
    fields = body if isinstance(body, dict) else None
    items = fields.get("cache") if fields is not None else None
    if fields is None or not isinstance(items, list) or not items:
        raise errors.BadRequest(
            "Invalid input for field/attribute cache. 'cache' is a required non-empty list"
        )
    _only(fields, {"cache"}, "request body")
    image_ids = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            raise errors.BadRequest(f"Invalid input for field/attribute cache. {item!r} needs an 'id' string")
        _only(item, {"id"}, "cache")
        image_ids.append(check(Uuid, "id", item["id"]))
    req.admin.image_precache.cache(req.context, aggregate_id, image_ids)
    return Response(status_code=202)
