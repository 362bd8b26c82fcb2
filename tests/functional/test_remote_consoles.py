"""Serial consoles through the API: the console request (os-getSerialConsole before 2.6), the single-use
token, and the websocket proxy joined to the serial port the compute driver names.

The compute host runs the fake driver with a serial port of our own that answers every line in upper
case: a TCP listener on 127.0.0.1 (where the QEMU driver's serial ports listen) or a unix socket, so the
proxy is tested byte for byte without QEMU (test_vm_lifecycle does it with a real guest).
"""

from __future__ import annotations

import shutil
import socketserver
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect
from websockets.typing import Subprotocol

from overcast.api.openstack.compute.microversion import MAX_VERSION, APIVersion
from overcast.virt.fake import FakeDriver
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.waiting import WAIT_SECONDS


class _Shout(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for line in self.rfile:
            self.wfile.write(line.upper())


class SerialFakeDriver(FakeDriver):
    """The fake driver, plus a serial port per VM that shouts back what it is sent: on TCP, or on a unix
    socket when `kind` says so."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = folder
        self.kind = "tcp"
        self.servers: dict[str, socketserver.BaseServer] = {}

    def get_serial_console(self, uuid: str) -> dict[str, Any]:
        self.get_info(uuid)  # InstanceNotFound for a VM this host does not have
        key = f"{self.kind}-{uuid}"
        if key not in self.servers:
            server: socketserver.BaseServer
            if self.kind == "tcp":
                server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Shout)
            else:
                server = socketserver.ThreadingUnixStreamServer(str(self.folder / f"{uuid[:8]}.sock"), _Shout)
            server.daemon_threads = True  # type: ignore[attr-defined]
            threading.Thread(target=server.serve_forever, daemon=True).start()
            self.servers[key] = server
        address = self.servers[key].server_address
        if self.kind == "tcp":
            assert isinstance(address, tuple)
            return {"kind": "tcp", "host": address[0], "port": address[1]}
        return {"kind": "unix", "path": str(address)}

    def close(self) -> None:
        for server in self.servers.values():
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    sockets = Path(tempfile.mkdtemp(prefix="oc-serial-"))  # short: unix socket paths are limited
    driver = SerialFakeDriver(sockets)
    folder = tmp_path_factory.mktemp("consoles")
    running = InProcessCloud(folder, compute_hosts=("c1",), drivers={"c1": driver})
    yield running
    running.stop()
    driver.close()
    shutil.rmtree(sockets, ignore_errors=True)


@pytest.fixture(scope="module")
def server(demo: Connection) -> Any:
    created = demo.compute.create_server(
        name="console-vm", image_id=IMAGE_ID, flavor_id=TINY, networks="none"
    )
    return demo.compute.wait_for_server(created, status="ACTIVE", wait=30, interval=0.1)


def _talk(url: str, line: bytes) -> bytes:
    with websocket_connect(url, subprotocols=[Subprotocol("binary")], open_timeout=WAIT_SECONDS) as websocket:
        assert websocket.subprotocol == "binary"
        websocket.send(line)
        answer = websocket.recv(timeout=WAIT_SECONDS)
    return answer if isinstance(answer, bytes) else answer.encode()


def test_a_serial_console_url_joins_the_vm_serial_port_once(
    cloud: InProcessCloud, demo: Connection, server: Any
) -> None:
    console = demo.compute.create_console(server, console_type="serial")
    assert console["type"] == "serial"
    assert console["url"].startswith(f"ws://127.0.0.1:{cloud.settings.listen_port}/serial?token=")
    assert _talk(console["url"], b"uname -a\n") == b"UNAME -A\n"
    with pytest.raises(InvalidStatus):  # the token was spent
        _talk(console["url"], b"again\n")
    with pytest.raises(InvalidStatus):
        _talk(console["url"].split("token=")[0] + "token=made-up", b"x\n")


def _post(
    cloud: InProcessCloud, conn: Connection, path: str, body: Any, version: str = "2.1"
) -> httpx.Response:
    headers = {"X-Auth-Token": conn.auth_token, "OpenStack-API-Version": f"compute {version}"}
    return httpx.post(
        f"{cloud.base_url}/compute/v2.1{path}", json=body, headers=headers, timeout=WAIT_SECONDS
    )


def _serial_action(cloud: InProcessCloud, conn: Connection, server_id: str, kind: str) -> httpx.Response:
    return _post(cloud, conn, f"/servers/{server_id}/action", {"os-getSerialConsole": {"type": kind}})


def test_the_proxy_also_joins_a_unix_socket_serial_port(
    cloud: InProcessCloud, demo: Connection, server: Any
) -> None:
    driver = cloud.drivers["c1"]
    driver.kind = "unix"
    try:  # the proxy asks the host again where the port is when the token comes back
        console = demo.compute.create_console(server, console_type="serial")
        assert _talk(console["url"], b"over a unix socket\n") == b"OVER A UNIX SOCKET\n"
    finally:
        driver.kind = "tcp"


def test_remote_consoles_route_arrives_with_2_6(cloud: InProcessCloud, demo: Connection, server: Any) -> None:
    body = {"remote_console": {"protocol": "serial", "type": "serial"}}
    path = f"/servers/{server.id}/remote-consoles"
    served = MAX_VERSION
    assert _post(cloud, demo, path, body, "2.5" if served >= APIVersion(2, 5) else "2.1").status_code == 404
    created = _post(cloud, demo, path, body, "2.6")
    if served < APIVersion(2, 6):
        assert created.status_code == 406  # the API does not serve 2.6 yet
        return
    assert created.status_code == 200, created.text
    console = created.json()["remote_console"]
    assert (console["protocol"], console["type"]) == ("serial", "serial")
    assert _talk(console["url"], b"ls\n") == b"LS\n"
    mismatched = {"remote_console": {"protocol": "vnc", "type": "serial"}}
    assert _post(cloud, demo, path, mismatched, "2.6").status_code == 400


def test_console_requests_are_checked(cloud: InProcessCloud, demo: Connection, server: Any) -> None:
    assert _serial_action(cloud, demo, server.id, "novnc").status_code == 400
    assert _serial_action(cloud, demo, "no-such-server", "serial").status_code == 404
    demo.compute.stop_server(server)
    demo.compute.wait_for_server(demo.compute.get_server(server), status="SHUTOFF", wait=30, interval=0.1)
    assert _serial_action(cloud, demo, server.id, "serial").status_code == 409
    demo.compute.start_server(server)
    demo.compute.wait_for_server(demo.compute.get_server(server), status="ACTIVE", wait=30, interval=0.1)
