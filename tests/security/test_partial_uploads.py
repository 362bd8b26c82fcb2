"""An API killed mid-upload (issue #12, defect 9).

SIGKILL during an image upload left the image `saving` forever and its partial file on disk, and
deleting the image did not remove that file. Now the upload records which API host receives it and
notes its progress; when that API starts again the image goes back to `queued` (as Glance v2 does
with a failed upload) and the partial data is removed. Uploads other API hosts are receiving are left
alone until they have made no progress for a long time. Deleting an image removes partial data too.

The first test is the real thing: an `overcast service api` process killed with SIGKILL while an
upload streams into it, then started again on the same data directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from openstack.connection import Connection

import overcast
from overcast.db.models.image import Image
from overcast.image import registry
from overcast.image.data import HEARTBEAT_INTERVAL, STALE_UPLOAD, process_identity, this_process
from tests.support.cloud import InProcessCloud
from tests.support.ports import free_port

MIB = 1024 * 1024
SOURCE_ROOT = str(Path(overcast.__file__).resolve().parents[1])
SENT_BEFORE_THE_KILL = 24 * MIB
NO_SUCH_PROCESS = "999999999:1"  # beyond pid_max: the identity of a process that died


class StalledBody:
    """A request body that sends `size` bytes, then waits until released (or the connection dies);
    with `then`, it sends that many bytes more and waits for `release_more` before it ends."""

    def __init__(self, size: int, then: int = 0) -> None:
        self.size = size
        self.then = then
        self.sent = 0
        self.release = threading.Event()
        self.release_more = threading.Event()

    def __iter__(self) -> Iterator[bytes]:
        chunk = os.urandom(MIB)
        while self.sent < self.size:
            self.sent += len(chunk)
            yield chunk
        self.release.wait(60)
        if self.then:
            while self.sent < self.size + self.then:
                self.sent += len(chunk)
                yield chunk
            self.release_more.wait(60)


def upload_in_background(
    url: str, token: str, body: StalledBody, answers: list[httpx.Response] | None = None
) -> threading.Thread:
    def send() -> None:
        headers = {"X-Auth-Token": token, "Content-Type": "application/octet-stream"}
        headers["Accept"] = "application/json"
        # The API may die or cut the connection: what some tests want.
        with contextlib.suppress(httpx.HTTPError):
            answer = httpx.put(url, content=body, timeout=120, headers=headers)
            if answers is not None:
                answers.append(answer)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def partials(directory: Path, image_id: str) -> list[Path]:
    return sorted(directory.glob(f"{image_id}.*.partial"))


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class ApiProcess:
    """`overcast service api` as its own process on a data directory."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.base_url = f"http://127.0.0.1:{port}"
        env = {key: value for key, value in os.environ.items() if not key.startswith("OVERCAST_")}
        env["PYTHONPATH"] = SOURCE_ROOT  # the overcast these tests import, wherever it is installed from
        self.process = subprocess.Popen(
            [sys.executable, "-m", "overcast.cli.main", "service", "api", "--data-dir", str(data_dir),
             "--listen", f"127.0.0.1:{port}", "--log-level", "WARNING"],
            cwd=data_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            wait_for(self._healthy, "the API to answer", timeout=60)
        except AssertionError:
            self.kill()
            raise

    def _healthy(self) -> bool:
        if self.process.poll() is not None:
            stderr = self.process.stderr.read().decode() if self.process.stderr else ""
            raise AssertionError(f"the API exited with {self.process.returncode}:\n{stderr}")
        try:
            return httpx.get(f"{self.base_url}/healthcheck", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def token(self) -> str:
        clouds = yaml.safe_load((self.data_dir / "clouds.yaml").read_text())["clouds"]
        auth = clouds["overcast-admin"]["auth"]
        body = {"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": auth["username"], "password": auth["password"], "domain": {"name": "Default"}}}},
            "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
        }}  # fmt: skip
        response = httpx.post(f"{self.base_url}/identity/v3/auth/tokens", json=body, timeout=30)
        assert response.status_code == 201, response.text
        return response.headers["X-Subject-Token"]

    def kill(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        if self.process.stderr:
            self.process.stderr.close()


def image_row(data_dir: Path, image_id: str) -> tuple[str, str | None]:
    with sqlite3.connect(data_dir / "overcast.db") as db:
        row = db.execute("SELECT status, upload_host FROM images WHERE id = ?", (image_id,)).fetchone()
    assert row is not None
    return row[0], row[1]


def test_sigkill_mid_upload_then_restart_requeues_and_removes_the_partial_file(tmp_path: Path) -> None:
    port = free_port()
    api = ApiProcess(tmp_path, port)
    body = StalledBody(SENT_BEFORE_THE_KILL)
    try:
        token = api.token()
        images = f"{api.base_url}/image/v2/images"
        headers = {"X-Auth-Token": token, "Accept": "application/json"}
        created = httpx.post(images, json={"name": "big", "disk_format": "raw", "container_format": "bare"},
                             headers=headers, timeout=30)  # fmt: skip
        assert created.status_code == 201, created.text
        image_id = created.json()["id"]
        upload_in_background(f"{images}/{image_id}/file", token, body)
        store = tmp_path / "images"
        # Killed while the data streams in: the partial file holds most of what was sent.
        wait_for(lambda: body.sent >= SENT_BEFORE_THE_KILL, "the body to be sent")
        partial = wait_for(lambda: partials(store, image_id), "the partial file")[0]
        wait_for(lambda: partial.stat().st_size >= 8 * MIB, "data in the partial file")
        api.kill()
    finally:
        body.release.set()
        api.kill()
    status, upload_host = image_row(tmp_path, image_id)
    assert status == "saving" and upload_host  # what the dead API left
    assert partials(store, image_id)

    api = ApiProcess(tmp_path, port)
    try:
        headers = {"X-Auth-Token": api.token(), "Accept": "application/json"}
        shown = httpx.get(f"{images}/{image_id}", headers=headers, timeout=30).json()
        assert shown["status"] == "queued"
        assert partials(store, image_id) == []
        assert image_row(tmp_path, image_id) == ("queued", None)
        # Queued again, so the owner can upload once more.
        data = os.urandom(3 * MIB)
        uploaded = httpx.put(f"{images}/{image_id}/file", content=data, timeout=60,
                             headers={**headers, "Content-Type": "application/octet-stream"})  # fmt: skip
        assert uploaded.status_code == 204, uploaded.text
        assert httpx.get(f"{images}/{image_id}", headers=headers, timeout=30).json()["status"] == "active"
    finally:
        api.kill()


# --- in one process ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("partial_uploads"), compute_hosts=("compute-1",))
    yield running
    running.stop()


@pytest.fixture
def http(cloud: InProcessCloud, admin: Connection) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=f"{cloud.base_url}/image/v2",
        headers={"X-Auth-Token": str(admin.auth_token), "Accept": "application/json"},
        timeout=30,
    ) as client:
        yield client


def new_image(http: httpx.Client) -> str:
    body = {"name": "partial", "disk_format": "raw", "container_format": "bare"}
    response = http.post("/images", json=body)
    assert response.status_code == 201, response.text
    image_id: str = response.json()["id"]
    return image_id


def test_deleting_an_image_mid_upload_removes_its_partial_data(
    cloud: InProcessCloud, http: httpx.Client, admin: Connection
) -> None:
    image_id = new_image(http)
    body = StalledBody(8 * MIB)
    url = f"{cloud.base_url}/image/v2/images/{image_id}/file"
    answers: list[httpx.Response] = []
    uploader = upload_in_background(url, str(admin.auth_token), body, answers)
    store = cloud.data_dir / "images"
    try:
        wait_for(lambda: partials(store, image_id), "the partial file")
        assert http.get(f"/images/{image_id}").json()["status"] == "saving"
        assert http.delete(f"/images/{image_id}").status_code == 204
        assert partials(store, image_id) == []
    finally:
        body.release.set()
        uploader.join(30)
    assert partials(store, image_id) == []
    assert list(store.glob(f"{image_id}*")) == []
    assert http.get(f"/images/{image_id}").status_code == 404
    # The uploader learns its image is gone (Glance's 410), not that the store failed (a 5xx).
    assert [answer.status_code for answer in answers] == [410]
    assert answers[0].json()["title"] == "Gone"


def _leave_saving(
    cloud: InProcessCloud, image_id: str, host: str, heartbeat_age: timedelta, process: str | None = None
) -> Path:
    """The state a process on `host` leaves while it receives an upload (or when it died meanwhile):
    the row, and a partial file."""
    now = cloud.cloud.clock()
    with cloud.cloud.db.writer() as session:
        assert registry.compare_and_set_status(
            session, image_id, (registry.QUEUED,), registry.SAVING,
            upload_host=host, upload_process=process or NO_SUCH_PROCESS,
            upload_heartbeat_at=now - heartbeat_age,
        )  # fmt: skip
    partial = cloud.data_dir / "images" / f"{image_id}.0badc0de.partial"
    partial.write_bytes(b"x" * 4096)
    return partial


def _status(cloud: InProcessCloud, image_id: str) -> str:
    with cloud.cloud.db.reader() as session:
        image = session.get(Image, image_id)
        assert image is not None
        return image.status


def test_start_up_requeues_only_its_own_and_long_stalled_uploads(
    cloud: InProcessCloud, http: httpx.Client
) -> None:
    this_host = cloud.settings.host
    own = new_image(http)
    live_elsewhere = new_image(http)
    dead_elsewhere = new_image(http)
    own_partial = _leave_saving(cloud, own, this_host, timedelta(seconds=1))
    live_partial = _leave_saving(cloud, live_elsewhere, "api-2", timedelta(seconds=5))
    dead_partial = _leave_saving(cloud, dead_elsewhere, "api-3", STALE_UPLOAD + timedelta(minutes=1))

    # What the API does when it starts (overcast.api.openstack.image.install).
    recovered = cloud.image_api.data.recover_interrupted_uploads()

    assert sorted(recovered) == sorted([own, dead_elsewhere])
    assert (_status(cloud, own), _status(cloud, dead_elsewhere)) == ("queued", "queued")
    assert not own_partial.exists() and not dead_partial.exists()
    # Another API host may still be receiving this one: untouched.
    assert _status(cloud, live_elsewhere) == "saving"
    assert live_partial.exists()
    # Deleting it removes its partial data as well.
    assert http.delete(f"/images/{live_elsewhere}").status_code == 204
    assert not live_partial.exists()


def test_start_up_leaves_uploads_of_live_processes_on_this_host_alone(
    cloud: InProcessCloud, http: httpx.Client
) -> None:
    # Another process on this host (a compute service's snapshot, a second API) receiving an upload.
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other_identity = process_identity(other.pid)
        assert other_identity is not None
        theirs = new_image(http)
        ours = new_image(http)
        their_partial = _leave_saving(cloud, theirs, cloud.settings.host, timedelta(0), other_identity)
        our_partial = _leave_saving(cloud, ours, cloud.settings.host, timedelta(0), this_process())

        assert cloud.image_api.data.recover_interrupted_uploads() == []
        assert (_status(cloud, theirs), _status(cloud, ours)) == ("saving", "saving")
        assert their_partial.exists() and our_partial.exists()
    finally:
        other.kill()
        other.wait(10)
    # Once that process is gone (killed, like an API or compute service with SIGKILL), its upload is dead.
    assert cloud.image_api.data.recover_interrupted_uploads() == [theirs]
    assert _status(cloud, theirs) == "queued" and not their_partial.exists()
    assert _status(cloud, ours) == "saving" and our_partial.exists()
    assert http.delete(f"/images/{ours}").status_code == 204


def _upload_state(cloud: InProcessCloud, image_id: str) -> tuple[str, str | None, datetime | None]:
    with cloud.cloud.db.reader() as session:
        image = session.get(Image, image_id)
        assert image is not None
        return image.status, image.upload_host, image.upload_heartbeat_at


def test_a_running_upload_notes_its_progress(
    cloud: InProcessCloud, http: httpx.Client, admin: Connection
) -> None:
    image_id = new_image(http)
    body = StalledBody(2 * MIB, then=2 * MIB)
    url = f"{cloud.base_url}/image/v2/images/{image_id}/file"
    answers: list[httpx.Response] = []
    uploader = upload_in_background(url, str(admin.auth_token), body, answers)
    real_monotonic, real_clock = cloud.cloud.monotonic, cloud.cloud.clock
    try:
        wait_for(lambda: partials(cloud.data_dir / "images", image_id), "the partial file")
        status, host, started = _upload_state(cloud, image_id)
        assert (status, host) == ("saving", cloud.settings.host) and started is not None
        # HEARTBEAT_INTERVAL later, more data arrives: the upload says it is alive.
        cloud.cloud.monotonic = lambda: real_monotonic() + HEARTBEAT_INTERVAL.total_seconds() + 1
        cloud.cloud.clock = lambda: real_clock() + timedelta(minutes=5)
        body.release.set()
        wait_for(lambda: (beat := _upload_state(cloud, image_id)[2]) is not None
                 and beat >= started + timedelta(minutes=4), "a heartbeat")  # fmt: skip
    finally:
        cloud.cloud.monotonic, cloud.cloud.clock = real_monotonic, real_clock
        body.release.set()
        body.release_more.set()
        uploader.join(30)
    assert [answer.status_code for answer in answers] == [204]
    # Active now: nobody is uploading it any more.
    assert _upload_state(cloud, image_id) == ("active", None, None)
