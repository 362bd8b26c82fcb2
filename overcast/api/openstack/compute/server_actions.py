"""POST /servers/{id}/action: one route, dispatched on the body's single key (Nova's action names)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Body, Depends, Response
from fastapi.responses import JSONResponse

from overcast import errors, policy
from overcast.api.openstack.compute import action_schemas as schemas
from overcast.api.openstack.compute import remote_consoles
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.api.openstack.compute.schemas import check_hostname, refuse_out_of_version, refuse_personality
from overcast.api.openstack.compute.servers import audience
from overcast.compute import policies as rules

router = APIRouter()
# What a rebuild changes only when the request names it (null clears).
REBUILD_OPTIONAL = ("description", "key_name", "user_data", "trusted_image_certificates", "hostname")

Handler = Callable[[ComputeRequest, str, Any], Response]


@dataclass(frozen=True)
class Entry:
    rule: str
    handler: Handler


def _accepted() -> Response:
    return Response(status_code=202)


def _no_body(call: Callable[[ComputeRequest, str], None], action: str) -> Handler:
    def handle(req: ComputeRequest, uuid: str, value: Any) -> Response:
        schemas.parse(action, schemas.NoBody, value)
        call(req, uuid)
        return _accepted()

    return handle


def _reboot(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("reboot", schemas.Reboot, value)
    req.service.actions.reboot(req.context, uuid, body.type.upper())
    return _accepted()


def _rescue(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("rescue", schemas.Rescue | None, value) or schemas.Rescue()
    password = req.service.actions.rescue(
        req.context, uuid, body.adminPass, body.rescue_image_ref,
        volume_backed_allowed=req.version >= v.STABLE_RESCUE,
    )  # fmt: skip
    return JSONResponse({"adminPass": password}, status_code=200)


def _resize(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("resize", schemas.Resize, value)
    req.service.actions.resize(req.context, uuid, str(body.flavorRef))
    return _accepted()


def _migrate(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version >= v.MIGRATE_HOST:
        body = schemas.parse("migrate", schemas.Migrate | None, value)
        host = body.host if body is not None else None
    else:
        schemas.parse("migrate", schemas.NoBody, value)
        host = None
    req.service.actions.migrate(req.context, uuid, host)
    return _accepted()


def _rebuild(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("rebuild", schemas.Rebuild, value)
    given = body.model_fields_set
    refuse_out_of_version(
        given, req.version,
        {"description": v.DESCRIPTION, "key_name": v.REBUILD_KEY_NAME, "user_data": v.PERSONALITY_GONE,
         "trusted_image_certificates": v.TRUSTED_CERTS, "hostname": v.HOSTNAME},
        {"personality": v.PERSONALITY_GONE},
    )  # fmt: skip
    refuse_personality(body.personality)
    check_hostname(body.hostname, req.version)
    optional = {name: getattr(body, name) for name in REBUILD_OPTIONAL if name in given}
    password = req.service.actions.rebuild(
        req.context, uuid, body.imageRef, name=body.name, admin_password=body.adminPass,
        metadata=body.metadata, access_ip_v4=body.accessIPv4, access_ip_v6=body.accessIPv6,
        optional=optional, volume_backed_ok=req.version >= v.REBUILD_VOLUME_BACKED,
    )  # fmt: skip
    server = req.service.servers.get(req.context, uuid)
    view = req.servers_view.detail(
        server, req.version, audience(req, server.instance.project_id), form="rebuild"
    )
    view["adminPass"] = password
    if req.version >= v.PERSONALITY_GONE:
        view["user_data"] = server.instance.user_data
    return JSONResponse({"server": view}, status_code=202)


def _lock(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version >= v.LOCKED_REASON:
        body = schemas.parse("lock", schemas.Lock | None, value) or schemas.Lock()
        reason = body.locked_reason
    else:
        reason = None  # Nova reads nothing of the lock's body before 2.73
    req.service.actions.lock(req.context, uuid, reason)
    return _accepted()


def _unshelve(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version < v.UNSHELVE_ZONE:
        # Nova reads nothing of the unshelve's body before 2.77.
        req.service.actions.unshelve(req.context, uuid)
        return _accepted()
    body = schemas.parse("unshelve", schemas.Unshelve | None, value) or schemas.Unshelve()
    given = body.model_fields_set
    refuse_out_of_version(given, req.version, {"host": v.UNSHELVE_HOST})
    if body.host is not None:
        server = req.service.servers.find(req.context, uuid)
        policy.enforce(req.context, rules.UNSHELVE_TO_HOST, {"project_id": server.project_id})
    if "availability_zone" in given and body.availability_zone is None and req.version < v.UNSHELVE_HOST:
        raise errors.BadRequest("Invalid input for field/attribute availability_zone. Value: None. "
                                "None is not of type 'string'")  # fmt: skip
    unpin = "availability_zone" in given and body.availability_zone is None
    req.service.actions.unshelve(req.context, uuid, body.availability_zone, unpin=unpin, host=body.host)
    return _accepted()


def _create_image(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("createImage", schemas.CreateImage, value)
    image_id = req.service.actions.create_image(req.context, uuid, body.name, body.metadata)
    if req.version >= v.IMAGE_ID_BODY:
        return JSONResponse({"image_id": image_id}, status_code=202)
    # 2.1 names the image by its URL in the image service (2.45 moved it into the body).
    location = f"{req.links.bookmark_root.rsplit('/compute', 1)[0]}/image/v2/images/{image_id}"
    return Response(status_code=202, headers={"Location": location})


def _create_backup(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("createBackup", schemas.CreateBackup, value)
    image_id = req.service.backups.backup(
        req.context, uuid, body.name, body.backup_type, body.rotation, body.metadata
    )
    if req.version >= v.IMAGE_ID_BODY:
        return JSONResponse({"image_id": image_id}, status_code=202)
    if body.rotation == 0:
        return _accepted()  # Nova names the image only when rotation keeps it
    location = f"{req.links.endpoint}/images/{image_id}"
    return Response(status_code=202, headers={"Location": location})


# Nova drops ASCII control characters but tab and newline from console output.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f]")


def _tail(output: str, length: int | None) -> str:
    """Nova's last `length` lines: the text split on newlines, so output ending in a newline has an empty
    last line (length 1 of "a\nb\n" is ""); -1 or none is everything."""
    if length is None or length == -1:
        return output
    return "\n".join(output.split("\n")[-length:]) if length else ""


def _trigger_crash_dump(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version < v.CRASH_DUMP:
        raise errors.BadRequest("There is no such action: trigger_crash_dump")
    if value is not None:
        raise errors.BadRequest(
            f"Invalid input for field/attribute trigger_crash_dump. Value: {value}. "
            f"{value!r} is not of type 'null'"
        )
    req.service.actions.trigger_crash_dump(req.context, uuid)
    return _accepted()


def _console_output(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = (
        schemas.parse("os-getConsoleOutput", schemas.ConsoleOutput | None, value) or schemas.ConsoleOutput()
    )
    output = CONTROL_CHARACTERS.sub("", req.service.actions.console_output(req.context, uuid, None))
    return JSONResponse({"output": _tail(output, body.length)}, status_code=200)


def _reset_state(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("os-resetState", schemas.ResetState, value)
    req.service.actions.reset_state(req.context, uuid, body.state)
    return _accepted()


def _change_password(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("changePassword", schemas.ChangePassword, value)
    req.service.actions.change_password(req.context, uuid, body.adminPass)
    return _accepted()


def _add_security_group(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("addSecurityGroup", schemas.SecurityGroupAction, value)
    req.service.security_groups.add(req.context, uuid, body.name)
    return _accepted()


def _remove_security_group(req: ComputeRequest, uuid: str, value: Any) -> Response:
    body = schemas.parse("removeSecurityGroup", schemas.SecurityGroupAction, value)
    req.service.security_groups.remove(req.context, uuid, body.name)
    return _accepted()


def _add_floating_ip(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version >= v.NETWORK_ACTIONS_GONE:
        raise errors.NotFound("There is no such action: addFloatingIp")
    body = schemas.parse("addFloatingIp", schemas.AddFloatingIp, value)
    req.service.floating_ips.add(req.context, uuid, body.address, body.fixed_address)
    return _accepted()


def _remove_floating_ip(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version >= v.NETWORK_ACTIONS_GONE:
        raise errors.NotFound("There is no such action: removeFloatingIp")
    body = schemas.parse("removeFloatingIp", schemas.RemoveFloatingIp, value)
    req.service.floating_ips.remove(req.context, uuid, body.address)
    return _accepted()


def _add_fixed_ip(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version >= v.NETWORK_ACTIONS_GONE:
        raise errors.NotFound("There is no such action: addFixedIp")
    body = schemas.parse("addFixedIp", schemas.AddFixedIp, value)
    req.service.fixed_ips.add(req.context, uuid, str(body.networkId))
    return _accepted()


def _remove_fixed_ip(req: ComputeRequest, uuid: str, value: Any) -> Response:
    if req.version >= v.NETWORK_ACTIONS_GONE:
        raise errors.NotFound("There is no such action: removeFixedIp")
    body = schemas.parse("removeFixedIp", schemas.RemoveFixedIp, value)
    req.service.fixed_ips.remove(req.context, uuid, body.address)
    return _accepted()


def _simple(method: str, action: str) -> Handler:
    return _no_body(lambda req, uuid: getattr(req.service.actions, method)(req.context, uuid), action)


ACTIONS: dict[str, Entry] = {
    "reboot": Entry(rules.REBOOT, _reboot),
    "os-stop": Entry(rules.STOP, _simple("stop", "os-stop")),
    "os-start": Entry(rules.START, _simple("start", "os-start")),
    "pause": Entry(rules.PAUSE, _simple("pause", "pause")),
    "unpause": Entry(rules.UNPAUSE, _simple("unpause", "unpause")),
    "suspend": Entry(rules.SUSPEND, _simple("suspend", "suspend")),
    "resume": Entry(rules.RESUME, _simple("resume", "resume")),
    "lock": Entry(rules.LOCK, _lock),
    "unlock": Entry(rules.UNLOCK, _simple("unlock", "unlock")),
    "rescue": Entry(rules.RESCUE, _rescue),
    "unrescue": Entry(rules.UNRESCUE, _simple("unrescue", "unrescue")),
    "resize": Entry(rules.RESIZE, _resize),
    "confirmResize": Entry(rules.CONFIRM_RESIZE, _simple("confirm_resize", "confirmResize")),
    "revertResize": Entry(rules.REVERT_RESIZE, _simple("revert_resize", "revertResize")),
    "migrate": Entry(rules.MIGRATE, _migrate),
    "rebuild": Entry(rules.REBUILD, _rebuild),
    "createImage": Entry(rules.CREATE_IMAGE, _create_image),
    "createBackup": Entry(rules.CREATE_BACKUP, _create_backup),
    "trigger_crash_dump": Entry(rules.TRIGGER_CRASH_DUMP, _trigger_crash_dump),
    "os-getConsoleOutput": Entry(rules.CONSOLE_OUTPUT, _console_output),
    "os-getSerialConsole": Entry(rules.REMOTE_CONSOLES, remote_consoles.get_serial_console_action),
    "shelve": Entry(rules.SHELVE, _simple("shelve", "shelve")),
    "shelveOffload": Entry(rules.SHELVE_OFFLOAD, _simple("shelve_offload", "shelveOffload")),
    "unshelve": Entry(rules.UNSHELVE, _unshelve),
    "forceDelete": Entry(rules.FORCE_DELETE, _simple("force_delete", "forceDelete")),
    "restore": Entry(rules.RESTORE, _simple("restore", "restore")),
    "os-resetState": Entry(rules.RESET_STATE, _reset_state),
    "changePassword": Entry(rules.CHANGE_PASSWORD, _change_password),
    "addSecurityGroup": Entry(rules.SECURITY_GROUPS_ADD, _add_security_group),
    "removeSecurityGroup": Entry(rules.SECURITY_GROUPS_REMOVE, _remove_security_group),
    "addFloatingIp": Entry(rules.FLOATING_IPS_ADD, _add_floating_ip),
    "removeFloatingIp": Entry(rules.FLOATING_IPS_REMOVE, _remove_floating_ip),
    "addFixedIp": Entry(rules.MULTINIC_ADD, _add_fixed_ip),
    "removeFixedIp": Entry(rules.MULTINIC_REMOVE, _remove_fixed_ip),
}


@router.post("/servers/{server_id}/action")
def server_action(
    server_id: str, body: dict[str, Any] = Body(...), req: ComputeRequest = Depends(compute_request)
) -> Response:
    if len(body) != 1:
        raise errors.BadRequest("Malformed request body: exactly one action is expected.")
    ((name, value),) = body.items()
    entry = ACTIONS.get(name)
    if entry is None:
        raise errors.BadRequest(f"There is no such action: {name}")
    server = req.service.servers.get(req.context, server_id)
    policy.enforce(
        req.context, entry.rule, {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    )
    return entry.handler(req, server_id, value)
