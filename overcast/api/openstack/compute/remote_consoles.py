"""Serial consoles: POST /servers/{id}/remote-consoles (2.6+), the os-getSerialConsole action (2.1-2.5),
and the websocket at /serial?token=... that joins the user to the VM's serial port.

The websocket is not behind the token middleware: the single-use console token is its credential,
checked by `compute/consoles.py` (in a worker thread: it waits on the database and the compute host).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, WebSocket
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnect

from overcast import errors, policy
from overcast.api.openstack.compute.common import ComputeRequest, compute_request
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.cloud import Cloud
from overcast.compute import policies
from overcast.compute.api.consoles import SERIAL_PATH, SerialConsoles
from overcast.compute.console_tokens import ConsoleGrant

LOG = logging.getLogger(__name__)
REMOTE_CONSOLES = policies.REMOTE_CONSOLES
FIRST_VERSION = APIVersion(2, 6)
_CHUNK = 4096
_CONNECT_TIMEOUT = 10.0
# Nova's protocol -> console types; only serial is served here (no VNC/SPICE: the VMs have no display).
_TYPES = {"vnc": ("novnc", "xvpvnc"), "spice": ("spice-html5",), "rdp": ("rdp-html5",),
          "serial": ("serial",), "mks": ("webmks",)}  # fmt: skip

router = APIRouter()


class RemoteConsole(BaseModel):
    model_config = ConfigDict(extra="forbid")

    protocol: Literal["vnc", "spice", "rdp", "serial", "mks"]
    type: Literal["novnc", "xvpvnc", "rdp-html5", "spice-html5", "serial", "webmks"]


class SerialConsoleAction(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: str


def _console_url(req: ComputeRequest, server_id: str, console_type: str) -> str:
    server = req.service.servers.get(req.context, server_id)
    target = {"project_id": server.instance.project_id, "user_id": req.context.user_id}
    policy.enforce(req.context, REMOTE_CONSOLES, target)
    if console_type != "serial":
        raise errors.BadRequest(f"Unavailable console type {console_type}.")
    actions = req.service.actions
    return SerialConsoles(actions.cloud, actions.compute_rpc).url(req.context, server_id)


@router.post("/compute/v2.1/servers/{server_id}/remote-consoles")
def create_remote_console(
    server_id: str, body: dict[str, Any] = Body(...), req: ComputeRequest = Depends(compute_request)
) -> dict[str, Any]:
    if req.version < FIRST_VERSION:
        raise errors.NotFound("The resource could not be found.")
    try:
        console = RemoteConsole.model_validate(body.get("remote_console"))
    except ValidationError as exc:
        message = exc.errors()[0]["msg"]
        raise errors.BadRequest(f"Invalid input for field/attribute remote_console: {message}") from None
    if console.type not in _TYPES[console.protocol]:
        raise errors.BadRequest(f"Console type {console.type} does not go with protocol {console.protocol}.")
    url = _console_url(req, server_id, console.type)
    return {"remote_console": {"protocol": console.protocol, "type": console.type, "url": url}}


def get_serial_console_action(req: ComputeRequest, server_id: str, value: Any) -> JSONResponse:
    """The os-getSerialConsole server action (microversions before 2.6)."""
    if req.version >= FIRST_VERSION:
        raise errors.BadRequest("os-getSerialConsole is replaced by POST /servers/{id}/remote-consoles.")
    try:
        action = SerialConsoleAction.model_validate(value)
    except ValidationError as exc:
        raise errors.BadRequest(f"Invalid input for os-getSerialConsole: {exc.errors()[0]['msg']}") from None
    url = _console_url(req, server_id, action.type)
    return JSONResponse({"console": {"type": action.type, "url": url}}, status_code=200)


@router.websocket(SERIAL_PATH)
async def serial_proxy(websocket: WebSocket, token: str = "") -> None:
    cloud: Cloud = websocket.app.state.cloud
    target = await run_in_threadpool(SerialConsoles(cloud).redeem, token)
    if target is None or target.connect.get("kind") not in ("tcp", "unix"):
        await websocket.close(code=1008, reason="Invalid or expired console token")
        return
    offered = websocket.scope.get("subprotocols") or []
    try:
        reader, writer = await asyncio.wait_for(_open_serial_port(target.connect), _CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        LOG.warning("Serial console of %s is not reachable: %s", target.instance_uuid, exc)
        await websocket.close(code=1011, reason="The serial console is not reachable")
        return
    await websocket.accept(subprotocol="binary" if "binary" in offered else None)
    await _pump(websocket, reader, writer, target)


async def _open_serial_port(connect: dict[str, Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Connect to the serial port the compute host named: TCP on that host, or a unix socket on this one."""
    if connect["kind"] == "tcp":
        return await asyncio.open_connection(str(connect["host"]), int(connect["port"]))
    return await asyncio.open_unix_connection(str(connect["path"]))


async def _pump(
    websocket: WebSocket, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: ConsoleGrant
) -> None:
    async def to_guest() -> None:
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes") or (message.get("text") or "").encode()
            writer.write(data)
            await writer.drain()

    async def to_user() -> None:
        while data := await reader.read(_CHUNK):
            await websocket.send_bytes(data)

    tasks = [asyncio.create_task(to_guest()), asyncio.create_task(to_user())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError, RuntimeError):
                await task
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        with contextlib.suppress(RuntimeError, OSError, WebSocketDisconnect):
            await websocket.close()
    LOG.info("Serial console of %s closed", target.instance_uuid)
