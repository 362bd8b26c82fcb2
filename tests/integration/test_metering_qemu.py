"""A real QEMU server started, stopped and deleted with the `openstack` CLI is metered exactly as its
instance-action log says: running from the end of its build to the end of its stop, stopped until the end
of its delete. One VM boots (TCG).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.metering.manager import MeteringManager
from overcast.metering.usage import INSTANCE_RUNNING, INSTANCE_STOPPED, UsageReader
from overcast.service import Service
from tests.support import qemu
from tests.support.cloud import InProcessCloud
from tests.support.guests import wait_status
from tests.support.waiting import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not qemu.qemu_available(), reason="qemu-system-x86_64 is not installed"),
]

HOST = "qemu-1"
# The notification of an action's end is sent right after its instance-action event is finished.
SAME_SECOND = timedelta(seconds=1)


@pytest.fixture(scope="module")
def data_dir() -> Iterator[Path]:
    folder = qemu.new_data_dir()
    yield folder
    qemu.kill_leftover_vms(folder)
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def cloud(data_dir: Path) -> Iterator[InProcessCloud]:
    with qemu.cloud_with_guest(data_dir, {HOST: qemu.make_driver(data_dir, boot_timeout=0)}) as running:
        metering = Service(running.cloud, MeteringManager(running.cloud, "metering-1"))
        metering.start()
        try:
            yield running
        finally:
            metering.stop()


def finished_at(admin: Connection, server_id: str, event_name: str) -> datetime:
    """When the instance-action log says the compute host finished `event_name` for the server."""
    listing = admin.compute.get(f"/servers/{server_id}/os-instance-actions", microversion="2.51").json()
    for action in listing["instanceActions"]:
        path = f"/servers/{server_id}/os-instance-actions/{action['request_id']}"
        detail: dict[str, Any] = admin.compute.get(path, microversion="2.51").json()["instanceAction"]
        for event in detail.get("events") or []:
            if event["event"] == event_name and event["finish_time"]:
                return datetime.fromisoformat(event["finish_time"]).replace(tzinfo=UTC)
    raise AssertionError(f"no finished {event_name} in the action log of {server_id}")


def test_usage_matches_the_instance_action_log(cloud: InProcessCloud) -> None:
    admin = cloud.connect("admin")
    made = cloud.openstack(
        "server", "create", "--image", "overcast-tiny", "--flavor", "m1.tiny", "--nic", "none", "--wait",
        "metered-vm", "-f", "json",
    )  # fmt: skip
    server_id = made["id"]
    time.sleep(2)
    cloud.openstack("server", "stop", server_id)
    wait_status(admin, server_id, "SHUTOFF")
    time.sleep(2)
    cloud.openstack("server", "delete", "--wait", server_id)

    built = finished_at(admin, server_id, "compute_build_and_run_instance")
    stopped = finished_at(admin, server_id, "compute_stop_instance")
    deleted = finished_at(admin, server_id, "compute_terminate_instance")
    reader = UsageReader(cloud.cloud.db, cloud.cloud.clock)

    def usage() -> list[Any]:
        window = reader.slices(built - timedelta(hours=1), deleted + timedelta(hours=1))
        return [piece for piece in window if piece.resource_id == server_id]

    wait_until(lambda: len(usage()) == 2, 30, what="two periods")
    running, shut_off = usage()
    assert (running.metric, shut_off.metric) == (INSTANCE_RUNNING, INSTANCE_STOPPED)
    assert running.attributes["flavor_name"] == "m1.tiny"
    assert abs(running.start - built) < SAME_SECOND
    assert running.end == shut_off.start and abs(running.end - stopped) < SAME_SECOND
    assert abs(shut_off.end - deleted) < SAME_SECOND
    assert abs(running.seconds - (stopped - built).total_seconds()) <= 1
    assert abs(shut_off.seconds - (deleted - stopped).total_seconds()) <= 1
