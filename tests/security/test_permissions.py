"""File permissions of what Overcast writes (issue #12, defect 5, the files part).

The data directory was 0755, the database (password hashes, EC2 secrets) 0644, VM disks and config
drives (the root password inside) 0644: any local user read them. Now the data directory is 0700 and
nothing below it is readable by anyone but its owner: the services set umask 077 when they start, and
the code that creates files and directories names private modes itself, so they stay private when
Overcast runs as a library under a looser umask (these tests' own process runs under 022).
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

import overcast
from overcast.compute.manager.image_cache import HostImageCache
from overcast.context import RequestContext
from overcast.virt.driver import ImageRef
from overcast.virt.qemu import configdrive, disks
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.ports import free_port

GROUP_OR_OTHER = 0o077
SOURCE_ROOT = str(Path(overcast.__file__).resolve().parents[1])


def loose_entries(root: Path) -> list[str]:
    """Every entry under `root` (and root itself) that its group or other users may use at all."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if stat.S_IMODE(mode) & GROUP_OR_OTHER:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(root.parent)}")
    return found


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The umask most shells give (022): what Overcast must not rely on when it names modes itself."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _token(base_url: str, data_dir: Path) -> str:
    clouds = yaml.safe_load((data_dir / "clouds.yaml").read_text())["clouds"]
    auth = clouds["overcast-demo"]["auth"]
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": auth["username"], "password": auth["password"], "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}},
    }}  # fmt: skip
    response = httpx.post(f"{base_url}/identity/v3/auth/tokens", json=body, timeout=30)
    assert response.status_code == 201, response.text
    return response.headers["X-Subject-Token"]


def _use_the_cloud(base_url: str, token: str) -> str:
    """Write what a user's first minutes write: an image with data (its id), a server."""
    headers = {"X-Auth-Token": token, "Accept": "application/json"}
    created = httpx.post(f"{base_url}/image/v2/images", headers=headers, timeout=30,
                         json={"name": "mine", "disk_format": "raw", "container_format": "bare"})  # fmt: skip
    assert created.status_code == 201, created.text
    image_id = created.json()["id"]
    data_headers = {**headers, "Content-Type": "application/octet-stream"}
    uploaded = httpx.put(f"{base_url}/image/v2/images/{image_id}/file", content=os.urandom(1024 * 1024),
                         headers=data_headers, timeout=60)  # fmt: skip
    assert uploaded.status_code == 204, uploaded.text
    compute_headers = {**headers, "OpenStack-API-Version": "compute 2.37"}
    server = httpx.post(f"{base_url}/compute/v2.1/servers", headers=compute_headers, timeout=30, json={
        "server": {"name": "vm", "imageRef": IMAGE_ID, "flavorRef": TINY, "networks": "none"}})  # fmt: skip
    assert server.status_code == 202, server.text
    image: str = image_id
    return image


def test_a_fresh_all_in_one_data_directory_is_its_users_alone(tmp_path: Path) -> None:
    data_dir = tmp_path / "overcast-data"  # created by Overcast, not by the test
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("OVERCAST_")}
    env["PYTHONPATH"] = SOURCE_ROOT  # the overcast these tests import, wherever it is installed from
    process = subprocess.Popen(
        [sys.executable, "-m", "overcast.cli.main", "all-in-one", "--data-dir", str(data_dir),
         "--listen", f"127.0.0.1:{port}", "--compute-driver", "fake", "--log-level", "WARNING"],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        umask=0o022,  # a usual shell's: the all-in-one must tighten it itself
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, f"the all-in-one exited with {process.returncode}"
            assert time.monotonic() < deadline, "the all-in-one did not answer"
            try:
                if httpx.get(f"{base_url}/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        _use_the_cloud(base_url, _token(base_url, data_dir))
        names = {path.name for path in data_dir.rglob("*")}
        written = {"overcast.db", "overcast.db-wal", "overcast.db-shm", "token-keys.json", "clouds.yaml"}
        assert written <= names
        assert any(path.is_file() for path in (data_dir / "images").iterdir())
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert loose_entries(data_dir) == []
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    assert loose_entries(data_dir) == []


def test_files_are_private_under_a_loose_umask_too(tmp_path: Path, loose_umask: None) -> None:
    # In one process (the harness builds the cloud as a library would), under umask 022.
    data_dir = tmp_path / "library-data"
    cloud = InProcessCloud(data_dir, compute_hosts=("compute-1",))
    try:
        base_url = cloud.base_url
        token = cloud.connect("demo").auth_token
        assert token is not None
        image_id = _use_the_cloud(base_url, token)
        # The compute host's image cache, as a QEMU host fills it before a spawn.
        admin = RequestContext(user_id="admin", project_id="admin", roles=("admin",), is_admin=True)
        cached = HostImageCache(cloud.cloud, "compute-1", image_api=cloud.image_api).fetch(admin, image_id)
        assert cached.is_file()
        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert loose_entries(data_dir) == []
    finally:
        cloud.stop()


@pytest.mark.skipif(
    not (shutil.which("qemu-img") and (shutil.which("genisoimage") or shutil.which("xorriso"))),
    reason="needs qemu-img and genisoimage",
)
def test_qemu_disks_and_config_drives_are_private(tmp_path: Path, loose_umask: None) -> None:
    source = tmp_path / "source.raw"
    source.write_bytes(b"\0" * 1024 * 1024)
    cache = disks.ImageCache(tmp_path / "bases")
    base = cache.fetch(ImageRef(id="image-1", path=str(source)))
    overlay = tmp_path / "disk.qcow2"
    disks.create_overlay(base, overlay, 64 * 1024 * 1024)
    drive = configdrive.build_config_drive(
        {"openstack/latest/meta_data.json": b'{"admin_pass": "root password"}'}, tmp_path / "disk.config"
    )
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in (base.parent, base, overlay, drive)}
    assert modes == {"bases": 0o700, base.name: 0o400, "disk.qcow2": 0o600, "disk.config": 0o600}
