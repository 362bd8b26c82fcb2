"""Metering of storage and addresses end to end: volumes (create, extend, retype, delete), snapshots,
images (upload, delete) and floating IPs (allocate, release) through openstacksdk, with an injected clock;
the usage the metering service records matches the clock to the second.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from openstack.connection import Connection

from overcast.metering.manager import MeteringManager
from overcast.metering.usage import FLOATING_IP, IMAGE_GB, SNAPSHOT_GB, VOLUME_GB, UsageReader
from overcast.service import Service
from tests.support.clock import FakeClock, cloud_clock
from tests.support.cloud import InProcessCloud, move_clock
from tests.support.volume_host import add_volume_host
from tests.support.waiting import wait_until

T0 = datetime.now(UTC).replace(microsecond=0)
HOUR = timedelta(hours=1)
IMAGE_BYTES = 3 * 1024 * 1024 + 1


@pytest.fixture(scope="module")
def clock() -> Iterator[FakeClock]:
    with cloud_clock(T0) as clock:
        yield clock


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, clock: FakeClock) -> Iterator[InProcessCloud]:
    running = InProcessCloud(tmp_path_factory.mktemp("metering_storage"), clock=clock)
    add_volume_host(running)
    metering = Service(running.cloud, MeteringManager(running.cloud, "metering-1"))
    metering.start()
    running.services.append(metering)
    yield running
    running.stop()


def advance_to(cloud: InProcessCloud, clock: FakeClock, at: timedelta) -> None:
    move_clock(cloud, clock, T0 + at)


def wait_for(get: Any, resource_id: str, status: str) -> Any:
    def reached() -> Any:
        found = get(resource_id)
        assert found.status != "error", found
        return found if found.status == status else None

    return wait_until(reached, timeout=30, what=f"{resource_id} to be {status}")


def usage_of(cloud: InProcessCloud, clock: FakeClock, resource_id: str) -> list[tuple[Any, ...]]:
    reader = UsageReader(cloud.cloud.db, clock)
    return [
        (s.metric, s.quantity, dict(s.attributes), (s.start - T0) / HOUR, (s.end - T0) / HOUR)
        for s in reader.slices(T0, T0 + 100 * HOUR)
        if s.resource_id == resource_id
    ]


def test_volumes_snapshots_images_and_floating_ips_are_billed_to_the_second(
    cloud: InProcessCloud, clock: FakeClock, admin: Connection, demo: Connection
) -> None:
    ssd = admin.block_storage.create_type(name="ssd")
    public = admin.network.create_network(name="metering-public", is_router_external=True)
    admin.network.create_subnet(
        network_id=public.id, ip_version=4, cidr="198.51.100.0/24", is_dhcp_enabled=False
    )

    volume = demo.block_storage.create_volume(size=1, name="metered")
    wait_for(demo.block_storage.get_volume, volume.id, "available")
    image = demo.image.create_image(
        name="metered", data=b"x" * IMAGE_BYTES, disk_format="raw", container_format="bare"
    )
    fip = demo.network.create_ip(floating_network_id=public.id)
    default_type = demo.block_storage.get_volume(volume.id).volume_type

    advance_to(cloud, clock, HOUR)
    demo.block_storage.extend_volume(volume.id, 2)
    wait_for(demo.block_storage.get_volume, volume.id, "available")
    advance_to(cloud, clock, 2 * HOUR)
    demo.block_storage.retype_volume(volume.id, ssd.name)
    demo.image.delete_image(image.id)
    advance_to(cloud, clock, 3 * HOUR)
    snapshot = demo.block_storage.create_snapshot(volume_id=volume.id, name="metered")
    wait_for(demo.block_storage.get_snapshot, snapshot.id, "available")
    demo.network.delete_ip(fip)
    advance_to(cloud, clock, 4 * HOUR)
    demo.block_storage.delete_snapshot(snapshot.id)
    demo.block_storage.wait_for_delete(snapshot)
    advance_to(cloud, clock, 5 * HOUR)
    demo.block_storage.delete_volume(volume.id)
    demo.block_storage.wait_for_delete(volume)
    advance_to(cloud, clock, 6 * HOUR)

    expected = {
        volume.id: [
            (VOLUME_GB, Decimal(1), {"volume_type": default_type}, 0, 1),
            (VOLUME_GB, Decimal(2), {"volume_type": default_type}, 1, 2),
            (VOLUME_GB, Decimal(2), {"volume_type": "ssd"}, 2, 5),
        ],
        snapshot.id: [(SNAPSHOT_GB, Decimal(2), {"volume_type": "ssd"}, 3, 4)],
        image.id: [(IMAGE_GB, Decimal(IMAGE_BYTES) / 1024**3, {"disk_format": "raw"}, 0, 2)],
        fip.id: [(FLOATING_IP, Decimal(1), {"floating_ip_address": fip.floating_ip_address}, 0, 3)],
    }
    wait_until(
        lambda: {key: usage_of(cloud, clock, key) for key in expected} == expected,
        60,
        what=f"usage {expected}",
    )
