"""POST /volumes/{id}/action: one action per request, named by the body's only key (Cinder's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from overcast.api.deps import get_context
from overcast.api.openstack.volume import common
from overcast.api.openstack.volume import version_history as versions
from overcast.context import RequestContext
from overcast.errors import BadRequest
from overcast.volume.api.service import VolumeAPI

routes = APIRouter()
ACTION = "/volumes/{volume_id}/action"

# An action's handler: (request, context, service, volume id, the action's argument) → a body or None.
Handler = Callable[[Request, RequestContext, VolumeAPI, str, Any], dict[str, Any] | None]


def _arguments(value: Any, action: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadRequest(f"Invalid input for field/attribute {action}: it must be an object.")
    return value


def _extend(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    arguments = _arguments(value, "os-extend")
    if "new_size" not in arguments:
        raise BadRequest("Invalid input for field/attribute os-extend. 'new_size' is a required property")
    attached_ok = common.version(request) >= versions.EXTEND_ATTACHED
    api.volumes.extend(ctxt, volume_id, arguments["new_size"], attached_ok=attached_ok)


def _reset_status(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    api.volumes.reset_status(ctxt, volume_id, _arguments(value, "os-reset_status"))


def _force_delete(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    api.volumes.delete(ctxt, volume_id, force=True)


def _force_detach(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    attachment_id = _arguments(value, "os-force_detach").get("attachment_id")
    if attachment_id is not None and not isinstance(attachment_id, str):
        raise BadRequest("Invalid input for field/attribute attachment_id: it must be a string.")
    api.attachments.force_detach(ctxt, volume_id, attachment_id)


def _set_bootable(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    arguments = _arguments(value, "os-set_bootable")
    if "bootable" not in arguments:
        raise BadRequest("Must specify bootable in request.")
    api.volumes.set_bootable(ctxt, volume_id, arguments["bootable"])


def _readonly(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    arguments = _arguments(value, "os-update_readonly_flag")
    if "readonly" not in arguments:
        raise BadRequest("Must specify readonly in request.")
    api.volumes.update_readonly(ctxt, volume_id, arguments["readonly"])


def _show_image_metadata(
    request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any
) -> dict[str, Any]:
    return {"metadata": api.volumes.image_metadata(ctxt, volume_id)}


def _set_image_metadata(
    request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any
) -> dict[str, Any]:
    metadata = _arguments(value, "os-set_image_metadata").get("metadata")
    return {"metadata": api.volumes.set_image_metadata(ctxt, volume_id, metadata)}


def _unset_image_metadata(
    request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any
) -> None:
    api.volumes.unset_image_metadata(ctxt, volume_id, _arguments(value, "os-unset_image_metadata").get("key"))


def _retype(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    arguments = _arguments(value, "os-retype")
    api.volumes.retype(ctxt, volume_id, arguments.get("new_type"), arguments.get("migration_policy"))


def _upload_image(
    request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any
) -> dict[str, Any]:
    arguments = dict(_arguments(value, "os-volume_upload_image"))
    if common.version(request) < versions.UPLOAD_VISIBILITY:
        arguments.pop("visibility", None)
        arguments.pop("protected", None)
    return {
        "os-volume_upload_image": api.volumes.upload_to_image(ctxt, volume_id, arguments, api.image_quotas)
    }


def _reimage(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    if common.version(request) < versions.REIMAGE:
        raise BadRequest("There is no such action: os-reimage")
    arguments = _arguments(value, "os-reimage")
    if "image_id" not in arguments:
        raise BadRequest("Invalid input for field/attribute os-reimage. 'image_id' is a required property")
    api.volumes.reimage(
        ctxt, volume_id, arguments["image_id"], reimage_reserved=arguments.get("reimage_reserved", False)
    )


def _reserve(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    api.legacy.reserve(ctxt, volume_id)


def _unreserve(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    api.legacy.unreserve(ctxt, volume_id)


def _initialize(
    request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any
) -> dict[str, Any]:
    connector = _arguments(value, "os-initialize_connection").get("connector")
    return {"connection_info": api.legacy.initialize_connection(ctxt, volume_id, connector)}


def _terminate(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    connector = _arguments(value, "os-terminate_connection").get("connector")
    api.legacy.terminate_connection(ctxt, volume_id, connector)


def _attach(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    api.legacy.attach(ctxt, volume_id, _arguments(value, "os-attach"))


def _detach(request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any) -> None:
    attachment_id = _arguments(value, "os-detach").get("attachment_id")
    api.legacy.detach(ctxt, volume_id, attachment_id if isinstance(attachment_id, str) else None)


def _begin_detaching(
    request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any
) -> None:
    api.begin_detaching(ctxt, volume_id)


def _roll_detaching(
    request: Request, ctxt: RequestContext, api: VolumeAPI, volume_id: str, value: Any
) -> None:
    api.roll_detaching(ctxt, volume_id)


# Action → (handler, the success status Cinder answers with).
ACTIONS: dict[str, tuple[Handler, int]] = {
    "os-extend": (_extend, 202),
    "os-reset_status": (_reset_status, 202),
    "os-force_delete": (_force_delete, 202),
    "os-force_detach": (_force_detach, 202),
    "os-set_bootable": (_set_bootable, 200),
    "os-update_readonly_flag": (_readonly, 202),
    "os-retype": (_retype, 202),
    "os-show_image_metadata": (_show_image_metadata, 200),
    "os-set_image_metadata": (_set_image_metadata, 200),
    "os-unset_image_metadata": (_unset_image_metadata, 200),
    "os-volume_upload_image": (_upload_image, 202),
    "os-reimage": (_reimage, 202),
    "os-reserve": (_reserve, 202),
    "os-unreserve": (_unreserve, 202),
    "os-initialize_connection": (_initialize, 200),
    "os-terminate_connection": (_terminate, 202),
    "os-attach": (_attach, 202),
    "os-detach": (_detach, 202),
    "os-begin_detaching": (_begin_detaching, 202),
    "os-roll_detaching": (_roll_detaching, 202),
}


def register(name: str, handler: Handler, status: int = 202) -> None:
    """Another module's volume action (the snapshots module's `revert`)."""
    ACTIONS[name] = (handler, status)


@routes.post(ACTION)
def volume_action(
    volume_id: str,
    request: Request,
    body: Any = Depends(common.json_body),
    ctxt: RequestContext = Depends(get_context),
    api: VolumeAPI = Depends(common.service),
) -> Response:
    if not isinstance(body, dict) or len(body) != 1:
        raise BadRequest("Malformed request body: give exactly one action.")
    ((name, value),) = body.items()
    if name not in ACTIONS:
        raise BadRequest(f"There is no such action: {name}")
    handler, status = ACTIONS[name]
    result = handler(request, ctxt, api, volume_id, value)
    if result is None:
        return Response(status_code=status)
    return JSONResponse(result, status_code=status)
