"""Volume transfers at /os-volume-transfer (every version) and /volume-transfers (3.55+): create (the
auth key is in this answer only), list (summary and detail), show, accept, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume.api.records import Record
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()
LEGACY = "/os-volume-transfer"
CURRENT = "/volume-transfers"
DETAIL_FIELDS = ("destination_project_id", "source_project_id", "accepted")


def _check_path(request: Request, collection: str) -> None:
    if collection == CURRENT and common.version(request) < versions.TRANSFER_WITH_SNAPSHOTS:
        raise common.NotFoundAtVersion()


def _links(request: Request, collection: str, record: Record) -> list[dict[str, str]]:
    return common.self_links(request, collection.lstrip("/"), record["id"])


def transfer_summary(request: Request, collection: str, record: Record) -> dict[str, Any]:
    return {
        "id": record["id"],
        "name": record["name"],
        "volume_id": record["volume_id"],
        "links": _links(request, collection, record),
    }


def transfer_detail(request: Request, collection: str, record: Record) -> dict[str, Any]:
    version = common.version(request)
    shown = {**transfer_summary(request, collection, record), "created_at": record["created_at"]}
    if version >= versions.TRANSFER_WITH_SNAPSHOTS:
        shown["no_snapshots"] = record["no_snapshots"]
    if version >= versions.TRANSFER_DETAILS:
        shown.update({key: record[key] for key in DETAIL_FIELDS})
    return shown


def _register(collection: str) -> None:
    item = collection + "/{transfer_id}"

    @routes.post(collection, status_code=202, name=f"create_transfer{collection}")
    def create_transfer(
        request: Request,
        body: Any = Depends(common.json_body),
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> dict[str, Any]:
        _check_path(request, collection)
        transfer = common.member(body, "transfer")
        allowed = {"volume_id", "name"} | ({"no_snapshots"} if collection == CURRENT else set())
        unknown = sorted(set(transfer) - allowed)
        if unknown:
            raise BadRequest(
                f"Invalid input for field/attribute transfer. Additional properties are not allowed "
                f"({', '.join(repr(k) for k in unknown)} were unexpected)"
            )
        if "volume_id" not in transfer:
            raise BadRequest("Invalid input for field/attribute transfer. 'volume_id' is a required property")
        record = api.transfers.create(
            ctxt,
            transfer["volume_id"],
            name=transfer.get("name"),
            no_snapshots=transfer.get("no_snapshots", False),
        )
        return {"transfer": {**transfer_detail(request, collection, record), "auth_key": record["auth_key"]}}

    @routes.get(collection, name=f"list_transfers{collection}")
    def list_transfers(
        request: Request,
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> dict[str, Any]:
        _check_path(request, collection)
        return {"transfers": [transfer_summary(request, collection, r) for r in _list(request, ctxt, api)]}

    @routes.get(collection + "/detail", name=f"list_transfers_detail{collection}")
    def list_transfers_detail(
        request: Request,
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> dict[str, Any]:
        _check_path(request, collection)
        return {"transfers": [transfer_detail(request, collection, r) for r in _list(request, ctxt, api)]}

    @routes.get(item, name=f"show_transfer{collection}")
    def show_transfer(
        transfer_id: str,
        request: Request,
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> dict[str, Any]:
        _check_path(request, collection)
        return {"transfer": transfer_detail(request, collection, api.transfers.get(ctxt, transfer_id))}

    @routes.post(item + "/accept", status_code=202, name=f"accept_transfer{collection}")
    def accept_transfer(
        transfer_id: str,
        request: Request,
        body: Any = Depends(common.json_body),
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> dict[str, Any]:
        _check_path(request, collection)
        accept = common.member(body, "accept")
        if "auth_key" not in accept:
            raise BadRequest("Invalid input for field/attribute accept. 'auth_key' is a required property")
        record = api.transfers.accept(ctxt, transfer_id, accept["auth_key"])
        return {"transfer": {**record, "links": _links(request, collection, record)}}

    @routes.delete(item, status_code=202, name=f"delete_transfer{collection}")
    def delete_transfer(
        transfer_id: str,
        request: Request,
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> Response:
        _check_path(request, collection)
        api.transfers.delete(ctxt, transfer_id)
        return Response(status_code=202)


def _list(request: Request, ctxt: RequestContext, api: VolumeAPI) -> list[Record]:
    params = request.query_params
    filters = {key: params[key] for key in ("name", "volume_id", "id") if key in params}
    return api.transfers.list(
        ctxt,
        filters=filters,
        marker=params.get("marker"),
        limit=common.limit_param(request),
        all_projects=common.truthy(params.get("all_tenants")),
    )


_register(LEGACY)
_register(CURRENT)
