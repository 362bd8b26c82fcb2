"""A volume host on the fake volume driver, beside an in-process cloud's compute hosts."""

from __future__ import annotations

from overcast.service import Service
from overcast.volume.drivers.fake import FakeVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.support.cloud import InProcessCloud

VOLUME_HOST = "volume-1"


def add_volume_host(running: InProcessCloud, host: str = VOLUME_HOST) -> FakeVolumeDriver:
    """Start a volume host in `running` (its pool in the cloud's data directory); its driver.

    It stops with the cloud, last (the cloud stops its services in reverse): a server delete still in
    flight when the compute hosts stop ends its attachments here, rather than waiting out the RPC timeout.
    """
    driver = FakeVolumeDriver(running.data_dir / "volume-pool")
    manager = VolumeManager(running.cloud, host, driver=driver, images=running.image_api)
    service = Service(running.cloud, manager)
    service.start()
    running.services.insert(0, service)
    return driver
