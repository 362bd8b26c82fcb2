"""The README's all-in-one (a separate process, fake volume driver) backs a volume up and restores it
through the `openstack` CLI: bytes written into the volume's file come back in a new volume after the
original is deleted, and the backup's chunks sit in the data directory's backup store until it is
deleted."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.all_in_one import OVERCAST, RunningCloud, start_cloud, stop_cloud
from tests.support.waiting import wait_until

OPENSTACK = str(Path(OVERCAST[0]).with_name("openstack"))
MIB = 1024 * 1024


@pytest.fixture
def running(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunningCloud]:
    monkeypatch.setenv("OVERCAST_VOLUME_DRIVER", "fake")
    cloud = start_cloud(tmp_path / "aio")
    try:
        yield cloud
    finally:
        assert stop_cloud(cloud) == 0


def cli(cloud: RunningCloud, *args: str) -> Any:
    env = {
        **os.environ,
        "OS_CLIENT_CONFIG_FILE": str(cloud.data_dir / "clouds.yaml"),
        "OS_CLOUD": "overcast-demo",
    }
    done = subprocess.run(
        [OPENSTACK, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout) if "json" in args else done.stdout


def wait_status(cloud: RunningCloud, kind: str, name: str, status: str) -> dict[str, Any]:
    def reached() -> Any:
        shown = cli(cloud, *kind.split(), "show", name, "-f", "json")
        assert not str(shown["status"]).startswith("error"), shown
        return shown if shown["status"] == status else None

    found: dict[str, Any] = wait_until(reached, timeout=60, what=f"{kind} {name} to be {status}")
    return found


def test_backup_delete_restore_through_the_cli(running: RunningCloud) -> None:
    volume = cli(running, "volume", "create", "--size", "1", "precious", "-f", "json")
    wait_status(running, "volume", "precious", "available")
    volume_file = running.data_dir / "volumes" / f"volume-{volume['id']}"
    data = os.urandom(MIB) + b"the end of the data"
    with volume_file.open("r+b") as handle:
        handle.seek(200 * MIB)
        handle.write(data)

    cli(running, "volume", "backup", "create", "--name", "nightly", "precious", "-f", "json")
    backup = wait_status(running, "volume backup", "nightly", "available")
    assert backup["size"] == 1 and list((running.data_dir / "backups").iterdir())
    cli(running, "volume", "delete", "precious")
    wait_until(lambda: not volume_file.exists(), timeout=60, what="the volume's file to go")

    cli(running, "volume", "backup", "restore", "nightly", "restored", "-f", "json")
    restored = wait_status(running, "volume", "restored", "available")
    with (running.data_dir / "volumes" / f"volume-{restored['id']}").open("rb") as handle:
        handle.seek(200 * MIB)
        assert handle.read(len(data)) == data

    cli(running, "volume", "backup", "delete", "nightly")
    wait_until(
        lambda: not list((running.data_dir / "backups").iterdir()), timeout=60, what="the chunks to go"
    )
