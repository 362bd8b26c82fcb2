"""Real QEMU guests with iSCSI volumes: a volume host (the iSCSI driver with its own tgtd on a free
loopback port) beside an in-process cloud, and the guest's view of a volume's disk (found by its
serial, the volume id's first 20 characters: the guest's config drive is a virtio disk too, so the
kernel's name for a volume's disk depends on what it found first)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openstack.connection import Connection

from overcast.service import Service
from overcast.volume.drivers.iscsi import IscsiVolumeDriver
from overcast.volume.manager import VolumeManager
from tests.support.cloud import InProcessCloud
from tests.support.guests import WAIT, ssh
from tests.support.ports import free_port


class VolumeHost:
    """A volume service named `volume-1` on the real iSCSI driver, running until `stop`."""

    def __init__(self, cloud: InProcessCloud, pool: Path) -> None:
        self.driver = IscsiVolumeDriver(
            pool, portal_address="127.0.0.1", port=free_port(), supervise_interval=0.5
        )
        self.service = Service(
            cloud.cloud, VolumeManager(cloud.cloud, "volume-1", driver=self.driver, images=cloud.image_api)
        )
        self.service.start()

    def stop(self) -> None:
        self.service.stop()
        self.driver.cleanup_host()


def wait_volume(conn: Connection, volume: Any, status: str) -> Any:
    return conn.block_storage.wait_for_status(volume, status, failures=["error"], wait=WAIT, interval=0.3)


def guest(cloud: InProcessCloud, server: Any, command: str) -> str:
    """`command`'s output in the server's guest, stripped."""
    return ssh(cloud, server, command).strip()


def device_of(cloud: InProcessCloud, server: Any, volume_id: str) -> str:
    """The name (`vdc`) of the guest's disk whose serial is the volume's, or "" while there is none."""
    serial = volume_id[:20]
    match = f'[ "$(cat $d/serial 2>/dev/null)" = "{serial}" ] && basename $d'
    return guest(cloud, server, f"for d in /sys/block/vd*; do {match}; done; true")
