"""/servers/{id}/os-interface: list, show, attach and detach a server's network interfaces (ports)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from overcast import errors, policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, parse_int, require_version
from overcast.api.openstack.compute.microversion import MIN_VERSION
from overcast.api.openstack.parameter_types import IpAddress, Tag, Uuid
from overcast.compute import policies as rules

router = APIRouter()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FixedIP(_Strict):
    ip_address: IpAddress


class InterfaceAttachment(_Strict):
    net_id: Uuid | None = None
    port_id: Uuid | None = None
    fixed_ips: Annotated[list[FixedIP], Field(min_length=1, max_length=1)] | None = None
    # Device tags (from 2.49) are not kept: the guest's metadata does not carry them yet.
    tag: Tag | None = None


class AttachBody(_Strict):
    interfaceAttachment: InterfaceAttachment = Field(default_factory=InterfaceAttachment)


def _authorize(req: ComputeRequest, server_id: str, rule: str) -> None:
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(
        req.context, rule, {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    )


def _tagged(req: ComputeRequest, attachment: dict[str, Any], tag: str | None = None) -> dict[str, Any]:
    """From 2.70 an attachment shows its device tag: the one just given, else null (tags are not kept)."""
    return {**attachment, "tag": tag} if req.version >= v.ATTACH_TAGS_SHOWN else attachment


@router.get("/servers/{server_id}/os-interface")
def list_interfaces(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    _authorize(req, server_id, rules.INTERFACES_LIST)
    listed = req.service.interfaces.list(req.context, server_id)
    return {"interfaceAttachments": [_tagged(req, attachment) for attachment in listed]}


@router.get("/servers/{server_id}/os-virtual-interfaces")
def list_virtual_interfaces(
    server_id: str, request: Request, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    """Nova's virtual interfaces (up to 2.43): the server's ports, as Nova listed them with Neutron."""
    require_version(req, MIN_VERSION, v.NETWORK_ACTIONS_GONE)
    _authorize(req, server_id, rules.VIRTUAL_INTERFACES)
    listed = req.service.interfaces.list(req.context, server_id)
    offset = parse_int("offset", request.query_params.get("offset")) or 0
    limit = parse_int("limit", request.query_params.get("limit"))
    page = listed[offset:] if limit is None else listed[offset : offset + limit]
    with_network = req.version >= v.VIRTUAL_INTERFACE_NET_ID
    return {
        "virtual_interfaces": [
            {"id": port["port_id"], "mac_address": port["mac_addr"]}
            | ({"net_id": port["net_id"]} if with_network else {})
            for port in page
        ]
    }


@router.get("/servers/{server_id}/os-interface/{port_id}")
def show_interface(
    server_id: str, port_id: str, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.INTERFACES_SHOW)
    return {"interfaceAttachment": _tagged(req, req.service.interfaces.show(req.context, server_id, port_id))}


@router.post("/servers/{server_id}/os-interface")
def attach_interface(
    server_id: str, body: AttachBody, req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    _authorize(req, server_id, rules.INTERFACES_CREATE)
    wanted = body.interfaceAttachment
    if wanted.tag is not None and req.version < v.TAGGED_ATTACH:
        given = wanted.model_dump(exclude_unset=True)
        raise errors.BadRequest(
            f"Invalid input for field/attribute interfaceAttachment. Value: {given}. "
            "Additional properties are not allowed ('tag' was unexpected)"
        )
    fixed_ip = wanted.fixed_ips[0].ip_address if wanted.fixed_ips else None
    attached = req.service.interfaces.attach(req.context, server_id, wanted.net_id, wanted.port_id, fixed_ip)
    return {"interfaceAttachment": _tagged(req, attached, wanted.tag)}


@router.delete("/servers/{server_id}/os-interface/{port_id}", status_code=202)
def detach_interface(
    server_id: str, port_id: str, req: ComputeRequest = Depends(compute_request)
) -> Response:
    _authorize(req, server_id, rules.INTERFACES_DELETE)
    req.service.interfaces.detach(req.context, server_id, port_id)
    return Response(status_code=202)
