"""Serial consoles (issue #12, defects 2 and 5): a console token opens the console of the VM it was issued
for and nothing else, once, for a short time, whichever API process it comes back to; a serial port on
the compute host is reachable by no other local user.

The compute host runs the fake driver with serial ports of our own that, like QEMU's under a port
range, are handed to the next VM once their VM is gone; each tells who holds it when a client connects.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socketserver
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from openstack.connection import Connection
from sqlalchemy import func, select
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as websocket_connect
from websockets.typing import Subprotocol

from overcast.api.assembly import build_api
from overcast.cloud import Cloud
from overcast.compute import console_tokens
from overcast.config import Settings
from overcast.db import Database
from overcast.db.models.compute import Instance
from overcast.db.models.console_tokens import ConsoleAuthToken
from overcast.virt.fake import FakeDriver
from overcast.virt.qemu import launch
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.ports import free_port
from tests.support.waiting import WAIT_SECONDS

_SLOTS = 2


class _Announce(socketserver.StreamRequestHandler):
    """Says whose console this is, then echoes what it is sent."""

    def handle(self) -> None:
        driver: RecyclingSerialDriver = self.server.driver  # type: ignore[attr-defined]
        owner = driver.owner_of(self.server)
        self.wfile.write(f"console of {owner}\n".encode())
        for line in self.rfile:
            self.wfile.write(line)


class RecyclingSerialDriver(FakeDriver):
    """The fake driver with a few TCP serial ports that the lowest free one goes to a VM that asks first,
    and back to the pool when its VM is destroyed (as QEMU's port range hands out a dead VM's port)."""

    def __init__(self) -> None:
        super().__init__()
        self.listeners: list[socketserver.ThreadingTCPServer] = []
        self.holders: dict[int, str] = {}  # slot -> uuid
        self._slots_lock = threading.Lock()
        for _ in range(_SLOTS):
            listener = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Announce)
            listener.daemon_threads = True
            listener.driver = self  # type: ignore[attr-defined]
            threading.Thread(target=listener.serve_forever, daemon=True).start()
            self.listeners.append(listener)

    def owner_of(self, listener: socketserver.BaseServer) -> str | None:
        with self._slots_lock:
            return self.holders.get(self.listeners.index(listener))  # type: ignore[arg-type]

    def get_serial_console(self, uuid: str) -> dict[str, Any]:
        self.get_info(uuid)  # InstanceNotFound for a VM this host does not have
        # A previous test's VM may still be on its way out: wait for its port as QEMU's range would
        # have a new VM wait for a free one, instead of failing the console call.
        deadline = time.monotonic() + 30
        while (slot := self._take_slot(uuid)) is None:
            assert time.monotonic() < deadline, f"no serial port freed up: held by {self.holders}"
            time.sleep(0.05)
        host, port = self.listeners[slot].server_address[:2]
        return {"kind": "tcp", "host": host, "port": port}

    def _take_slot(self, uuid: str) -> int | None:
        live = set(self.list_instance_uuids())
        with self._slots_lock:
            for slot, holder in list(self.holders.items()):
                if holder not in live:
                    del self.holders[slot]
            slot = next((s for s, holder in self.holders.items() if holder == uuid), None)
            free = set(range(_SLOTS)) - set(self.holders)
            if slot is None and free:
                slot = min(free)
                self.holders[slot] = uuid
            return slot

    def close(self) -> None:
        for listener in self.listeners:
            listener.shutdown()
            listener.server_close()


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    driver = RecyclingSerialDriver()
    folder = tmp_path_factory.mktemp("console")
    running = InProcessCloud(folder, compute_hosts=("c1",), drivers={"c1": driver})
    yield running
    running.stop()
    driver.close()


class _SecondAPI:
    """Another API process's app: its own Cloud (engine, clock) on the same database and bus."""

    def __init__(self, settings: Settings) -> None:
        port = free_port()
        self.settings = settings.model_copy(update={"listen": f"127.0.0.1:{port}"})
        self.cloud = Cloud.from_settings(self.settings, upgrade_db=False)
        config = uvicorn.Config(build_api(self.cloud), host="127.0.0.1", port=port, log_level="warning",
                                lifespan="off")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline, "the second API did not start"
            time.sleep(0.02)
        self.base = f"ws://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.cloud.db.dispose()  # the bus is the first cloud's too: it stays open


@pytest.fixture(scope="module")
def second_api(cloud: InProcessCloud) -> Iterator[_SecondAPI]:
    api = _SecondAPI(cloud.settings)
    yield api
    api.stop()


def _boot(conn: Connection, name: str) -> Any:
    created = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    return conn.compute.wait_for_server(created, status="ACTIVE", wait=30, interval=0.1)


def _delete(conn: Connection, server: Any) -> None:
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, wait=30, interval=0.1)


def _console_url(conn: Connection, server: Any) -> str:
    return str(conn.compute.create_console(server, console_type="serial")["url"])


def _greeting(url: str) -> str:
    """What the serial port says when the websocket joins it; InvalidStatus if the proxy refuses."""
    with websocket_connect(url, subprotocols=[Subprotocol("binary")], open_timeout=WAIT_SECONDS) as websocket:
        answer = websocket.recv(timeout=WAIT_SECONDS)
    return (answer if isinstance(answer, bytes) else answer.encode()).decode().strip()


def _token_rows(cloud: InProcessCloud, instance_uuid: str | None = None) -> int:
    query = select(func.count()).select_from(ConsoleAuthToken)
    if instance_uuid is not None:
        query = query.where(ConsoleAuthToken.instance_uuid == instance_uuid)
    with cloud.cloud.db.reader() as session:
        return int(session.scalar(query) or 0)


def test_a_deleted_vms_token_does_not_open_the_next_vms_console_on_its_port(
    cloud: InProcessCloud, demo: Connection, admin: Connection
) -> None:
    driver: RecyclingSerialDriver = cloud.drivers["c1"]
    first = _boot(demo, "project-a-vm")
    stale_url, never_presented = _console_url(demo, first), _console_url(demo, first)
    first_port = driver.get_serial_console(first.id)["port"]
    _delete(demo, first)

    second = _boot(admin, "project-b-vm")  # another project's VM on the port the first one had
    try:
        own_url = _console_url(admin, second)
        assert driver.get_serial_console(second.id)["port"] == first_port
        with pytest.raises(InvalidStatus):
            _greeting(stale_url)
        assert _greeting(own_url) == f"console of {second.id}"
    finally:
        _delete(admin, second)
    assert never_presented and _token_rows(cloud, first.id) == 0  # the delete dropped the VM's tokens


def test_a_token_expires_after_the_configured_ttl(cloud: InProcessCloud, demo: Connection) -> None:
    server = _boot(demo, "expiring")
    ttl = timedelta(seconds=cloud.settings.consoleauth.token_ttl)
    assert ttl == timedelta(minutes=10)  # Nova's [consoleauth] token_ttl
    start = datetime.now(UTC)
    original = cloud.cloud.clock
    try:
        cloud.cloud.clock = lambda: start
        late, in_time = _console_url(demo, server), _console_url(demo, server)
        cloud.cloud.clock = lambda: start + ttl - timedelta(seconds=1)
        assert _greeting(in_time) == f"console of {server.id}"
        cloud.cloud.clock = lambda: start + ttl
        with pytest.raises(InvalidStatus):
            _greeting(late)
        # An expired token that was never presented is purged when the next one is issued.
        cloud.cloud.clock = lambda: start
        forgotten = _console_url(demo, server)
        assert forgotten and _token_rows(cloud, server.id) == 1
        cloud.cloud.clock = lambda: start + ttl + timedelta(seconds=1)
        _console_url(demo, server)
        assert _token_rows(cloud, server.id) == 1
    finally:
        cloud.cloud.clock = original
        _delete(demo, server)


def test_a_token_opens_one_console_across_api_processes(
    cloud: InProcessCloud, demo: Connection, second_api: _SecondAPI
) -> None:
    server = _boot(demo, "shared")
    try:
        url = _console_url(demo, server)
        elsewhere = second_api.base + url[url.index("/serial?") :]
        assert _greeting(elsewhere) == f"console of {server.id}"  # issued by one API, used at another
        with pytest.raises(InvalidStatus):
            _greeting(url)

        # Raced at both processes at once, each token opens exactly one console.
        for _ in range(4):
            url = _console_url(demo, server)
            opened = _race([url, second_api.base + url[url.index("/serial?") :]], f"console of {server.id}")
            assert sorted(opened) == [False, True]
    finally:
        _delete(demo, server)


def _race(urls: list[str], greeting: str) -> list[bool]:
    """Join every URL's console at the same moment; which of them opened it."""
    opened: list[bool] = []
    start = threading.Barrier(len(urls))

    def attempt(url: str) -> None:
        start.wait()
        try:
            opened.append(_greeting(url) == greeting)
        except InvalidStatus:
            opened.append(False)

    threads = [threading.Thread(target=attempt, args=(url,)) for url in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return opened


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def token_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_db_url"))
    return f"sqlite:///{tmp_path / 'tokens.db'}"


def test_a_token_raced_by_two_processes_databases_is_granted_once(token_db_url: str) -> None:
    """Two engines (as two API processes have) spend the same tokens at the same moment."""
    engines = [Database(token_db_url), Database(token_db_url)]
    try:
        engines[0].upgrade()
        with engines[0].writer() as session:
            instance = Instance(display_name="raced", project_id="p1", user_id="u1", flavor_id="1", vcpus=1,
                                memory_mb=64, root_gb=1, vm_state="active", host="c1")  # fmt: skip
            session.add(instance)
            session.flush()
            grant = console_tokens.ConsoleGrant(
                instance_uuid=instance.uuid, project_id="p1", user_id="u1", host="c1", console_type="serial",
                connect={"kind": "tcp", "host": "127.0.0.1", "port": 10000},
            )  # fmt: skip
        now = datetime.now(UTC)
        tokens = [
            engines[0].write(lambda session: console_tokens.issue(session, grant, now=now, ttl=timedelta(1)))
            for _ in range(20)
        ]
        granted: list[list[str]] = [[], []]
        start = threading.Barrier(2)

        def spend(index: int) -> None:
            for token in tokens:
                start.wait()  # both at the same token at once
                if engines[index].write(lambda session, t=token: console_tokens.redeem(session, t, now=now)):
                    granted[index].append(token)

        threads = [threading.Thread(target=spend, args=(index,)) for index in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert sorted(granted[0] + granted[1]) == sorted(tokens)  # each once, by one of the two
    finally:
        for engine in engines:
            engine.dispose()


def test_tokens_are_stored_as_hashes_only(cloud: InProcessCloud, demo: Connection) -> None:
    server = _boot(demo, "hashed")
    try:
        token = _console_url(demo, server).partition("token=")[2]
        with cloud.cloud.db.reader() as session:
            query = select(ConsoleAuthToken).where(ConsoleAuthToken.instance_uuid == server.id)
            row = session.scalars(query).one()
            assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
            stored = [getattr(row, column.key) for column in ConsoleAuthToken.__table__.columns]
            assert token not in repr(stored)
        database_files = [path for path in cloud.data_dir.rglob("*.db*") if path.is_file()]
        assert database_files
        for path in database_files:  # not in the database file, nor its write-ahead log
            assert token.encode() not in path.read_bytes(), path
    finally:
        _delete(demo, server)


def test_serial_ports_are_unix_sockets_unless_a_port_range_is_set() -> None:
    assert Settings().serial_console.ports is None
    command = launch.build_qemu_command(launch.LaunchConfig(
        uuid="u", name="vm", vcpus=1, memory_mb=64, accelerator="tcg", cpu="max", disks=[],
    ))  # fmt: skip
    chardev = command[command.index("-chardev") + 1]
    assert chardev.startswith(f"socket,id=console,path={launch.SERIAL_SOCKET},")


_CONNECT_AS_NOBODY = """
import socket, sys
with socket.socket(socket.AF_UNIX) as client:
    try:
        client.connect(sys.argv[1])
    except PermissionError:
        sys.exit(13)
sys.exit(0)
"""


@pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU")
def test_a_vms_serial_socket_is_closed_to_other_local_users() -> None:
    folder = Path(f"/tmp/oc-serial-{uuid.uuid4().hex[:8]}")  # short: unix socket paths are limited
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)  # as a folder made under the usual umask 022 is
    vm_uuid = str(uuid.uuid4())
    config = launch.LaunchConfig(
        uuid=vm_uuid, name="perm", vcpus=1, memory_mb=64, accelerator="tcg", cpu="max", disks=[],
        extra_args=["-S"],  # created, never run: the sockets are what we look at
    )  # fmt: skip
    process = launch.launch(launch.build_qemu_command(config), folder)
    try:
        serial = folder / launch.SERIAL_SOCKET
        assert folder.stat().st_mode & 0o777 == 0o700
        assert serial.stat().st_mode & 0o777 == 0o600
        assert (folder / launch.QMP_SOCKET).stat().st_mode & 0o077 == 0
        assert serial.stat().st_uid == os.getuid()
        if os.getuid() == 0:  # a real other user tries to reach the login prompt
            tried = subprocess.run(["/usr/bin/python3", "-c", _CONNECT_AS_NOBODY, str(serial)], user="nobody",
                                   group="nogroup", capture_output=True, timeout=30, check=False)  # fmt: skip
            assert tried.returncode == 13, tried.stderr
    finally:
        launch.kill(process.pid, vm_uuid)
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
