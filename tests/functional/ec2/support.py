"""What the EC2 modules share besides their fixtures (conftest.py): the cloud with the hosts a module asks
for, AWS's error codes of a ClientError, and the moto reference check's server and shape comparison."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from overcast.metadata.ec2_ids import derived_id
from overcast.network.drivers.noop import NoopDriver
from overcast.network.manager import NetworkManager
from overcast.service import Service
from overcast.virt.fake import FakeDriver
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.support.cloud import IMAGE_ID, InProcessCloud
from tests.support.ports import free_port
from tests.support.waiting import wait_until

AMI = derived_id("ami", IMAGE_ID)
# boto3's waiters, polling fast enough for the fake driver.
FAST = {"Delay": 0.2, "MaxAttempts": 100}
COMPUTE_HOST = "compute-1"
# What a module's SERVICES may name: the hosts its cloud runs beside the compute host.
NETWORK, VOLUME = "network", "volume"
MOTO_SERVER = Path(sys.executable).with_name("moto_server")


class Ec2Cloud:
    """The in-process cloud, with a network agent (noop data plane) and a volume host (fake volume driver)
    beside its one compute host when `services` names them."""

    def __init__(self, data_dir: Path, services: frozenset[str]) -> None:
        if not services:
            self.cloud = InProcessCloud(data_dir)
            self.services: list[Service] = []
            return
        volume_settings: dict[str, Any] = {"volume_driver": "fake"} if VOLUME in services else {}
        self.cloud = InProcessCloud(data_dir, drivers={COMPUTE_HOST: FakeDriver()}, **volume_settings)
        core = self.cloud.cloud
        self.services = []
        if NETWORK in services:
            self.services.append(Service(core, NetworkManager(core, COMPUTE_HOST, driver=NoopDriver())))
        if VOLUME in services:
            volumes = VolumeManager(core, "volume-1", driver=FakeVolumeDriver(data_dir / "volume-pool"),
                                    images=self.cloud.image_api)  # fmt: skip
            self.services.append(Service(core, volumes))
        for service in self.services:
            service.start()

    def stop(self) -> None:
        for service in self.services:
            service.stop()
        self.cloud.stop()


def delete_snapshot(ec2: Any, snapshot_id: str) -> dict[str, Any]:
    """DeleteSnapshot, then wait until the snapshot is gone: the deletion is asynchronous, and a volume
    with snapshots (even one being deleted) cannot be deleted, as in Cinder."""
    answer: dict[str, Any] = ec2.delete_snapshot(SnapshotId=snapshot_id)
    gone = [{"Name": "snapshot-id", "Values": [snapshot_id]}]
    wait_until(lambda: not ec2.describe_snapshots(Filters=gone)["Snapshots"], what="the snapshot's deletion")
    return answer


def error_code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    """AWS's error code and HTTP status of the ClientError `error` holds."""
    response: Any = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


# --- the moto reference check ----------------------------------------------------------------------------
def moto_server() -> Iterator[str]:
    """moto's EC2 server on a free loopback port, stopped when the generator is closed."""
    port = free_port()
    process = subprocess.Popen(
        [str(MOTO_SERVER), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/moto-api/", timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, what="moto's server")
        yield url
    finally:
        process.terminate()
        process.wait(10)


def answer_differences(
    ours: Mapping[str, Any], theirs: Mapping[str, Any], deliberate: Mapping[tuple[str, str], str]
) -> list[str]:
    """Where the shapes of the two sides' answers (action → parsed response) differ, but on purpose."""
    found = []
    for action in ours:
        found.extend(differences(action, shape(ours[action]), shape(theirs[action]), deliberate))
    return found


def shape(value: Any) -> Any:
    """What is compared: dict keys with their shapes, a list's first item, a scalar's type."""
    if isinstance(value, dict):
        return {key: shape(child) for key, child in value.items() if key != "ResponseMetadata"}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def differences(
    action: str, ours: Any, theirs: Any, deliberate: Mapping[tuple[str, str], str], path: str = ""
) -> list[str]:
    """Where the shapes of one action's two answers differ, but for the `deliberate` differences: (action or
    `*`, path of keys) → why; a path names its key and what is below it."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        found = []
        for key in sorted(set(ours) | set(theirs)):
            child = f"{path}.{key}" if path else key
            if (action, child) in deliberate or ("*", child) in deliberate:
                continue
            if key not in ours:
                found.append(f"{action}: {child} only in moto")
            elif key not in theirs:
                found.append(f"{action}: {child} only in overcast")
            else:
                found.extend(differences(action, ours[key], theirs[key], deliberate, child))
        return found
    if isinstance(ours, list) and isinstance(theirs, list):
        if ours and theirs:
            return differences(action, ours[0], theirs[0], deliberate, f"{path}.*")
        return []
    if ours != theirs and not (isinstance(ours, (dict, list)) or isinstance(theirs, (dict, list))):
        return [f"{action}: {path} is {ours} here, {theirs} in moto"]
    if ours != theirs:
        return [f"{action}: {path} differs in kind"]
    return []
