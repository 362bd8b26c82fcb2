"""The metadata routes volumes and snapshots share (GET/POST/PUT .../metadata, GET/PUT/DELETE
.../metadata/{key}), written once for any service that keeps key/value metadata on a resource."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from typing import Any, Protocol

from fastapi import APIRouter, Depends, Request, Response

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.context import RequestContext
from overcast.errors import BadRequest, NotFound
from overcast.volume.api.service import VolumeAPI


def metadata_filter(text: str) -> dict[str, str]:
    """A list's `metadata` filter: Cinder takes metadata={'key': 'value'} (a Python literal) or JSON."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise BadRequest(f"Invalid input received: metadata filter {text!r} is not a dict.") from None
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input received: metadata filter {text!r} is not a dict.")
    return {str(key): str(item) for key, item in value.items()}


class MetadataHolder(Protocol):
    """What a resource's service offers for its metadata (VolumeAPI.volumes, VolumeAPI.snapshots)."""

    def metadata(self, ctxt: RequestContext, resource_id: str, /) -> dict[str, str]: ...

    def set_metadata(
        self, ctxt: RequestContext, resource_id: str, metadata: Any, /, *, replace: bool
    ) -> dict[str, str]: ...

    def set_metadata_item(
        self, ctxt: RequestContext, resource_id: str, key: str, value: Any, /
    ) -> dict[str, str]: ...

    def delete_metadata_item(self, ctxt: RequestContext, resource_id: str, key: str, /) -> None: ...


def _with_path_id(endpoint: Callable[..., Any], id_name: str) -> Callable[..., Any]:
    """`endpoint` takes the resource's id as `resource_id`; FastAPI must see it under the path's own
    name ({volume_id}, {snapshot_id}) so the route and its document name it as the path does."""
    signature = inspect.signature(endpoint)
    parameters = [
        parameter.replace(name=id_name) if parameter.name == "resource_id" else parameter
        for parameter in signature.parameters.values()
    ]

    def routed(**arguments: Any) -> Any:
        arguments["resource_id"] = arguments.pop(id_name)
        return endpoint(**arguments)

    routed.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
    routed.__name__ = f"{endpoint.__name__}_{id_name}"
    return routed


def add_metadata_routes(
    routes: APIRouter,
    item: str,
    id_name: str,
    holder: Callable[[VolumeAPI], MetadataHolder],
    missing: Callable[[str, str], str],
) -> None:
    """Mount the metadata routes below `item` (e.g. "/volumes/{volume_id}"); `holder` picks the service
    from VolumeAPI, `missing(resource_id, key)` words the 404 of an absent key."""

    def show(resource_id: str, ctxt: RequestContext = Depends(get_context),
             api: VolumeAPI = Depends(common.service)) -> dict[str, Any]:  # fmt: skip
        return {"metadata": holder(api).metadata(ctxt, resource_id)}

    def set_all(
        resource_id: str,
        request: Request,
        body: Any = Depends(common.json_body),
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> dict[str, Any]:
        """POST merges the given items into the metadata, PUT replaces it."""
        metadata = common.member(body, "metadata")
        replace = request.method == "PUT"
        return {"metadata": holder(api).set_metadata(ctxt, resource_id, metadata, replace=replace)}

    def show_item(resource_id: str, key: str, ctxt: RequestContext = Depends(get_context),
                  api: VolumeAPI = Depends(common.service)) -> dict[str, Any]:  # fmt: skip
        metadata = holder(api).metadata(ctxt, resource_id)
        if key not in metadata:
            raise NotFound(missing(resource_id, key))
        return {"meta": {key: metadata[key]}}

    def set_item(
        resource_id: str,
        key: str,
        body: Any = Depends(common.json_body),
        ctxt: RequestContext = Depends(get_context),
        api: VolumeAPI = Depends(common.service),
    ) -> dict[str, Any]:
        meta = common.member(body, "meta")
        if list(meta) != [key]:
            raise BadRequest("Request body and URI mismatch")
        return {"meta": holder(api).set_metadata_item(ctxt, resource_id, key, meta[key])}

    def delete_item(resource_id: str, key: str, ctxt: RequestContext = Depends(get_context),
                    api: VolumeAPI = Depends(common.service)) -> Response:  # fmt: skip
        holder(api).delete_metadata_item(ctxt, resource_id, key)
        return Response(status_code=200)

    path = item + "/metadata"
    routes.add_api_route(path, _with_path_id(show, id_name), methods=["GET"])
    routes.add_api_route(path, _with_path_id(set_all, id_name), methods=["POST"])
    routes.add_api_route(path, _with_path_id(set_all, id_name), methods=["PUT"])
    routes.add_api_route(path + "/{key}", _with_path_id(show_item, id_name), methods=["GET"])
    routes.add_api_route(path + "/{key}", _with_path_id(set_item, id_name), methods=["PUT"])
    routes.add_api_route(path + "/{key}", _with_path_id(delete_item, id_name), methods=["DELETE"])
