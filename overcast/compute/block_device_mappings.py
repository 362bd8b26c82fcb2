"""A server's block device mappings as both sides read them: the API's views and the host's spawn.

The rows (`db/models/block_device_mapping.py`) are written by the API when it reserves a volume and by
the compute host when the volume is connected; these readers are what the two sides share.
"""

from __future__ import annotations

import string
from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.db.models.block_device_mapping import BlockDeviceMapping
from overcast.db.value_sets import ValuesQuery

# The root disk of an image-backed server is the first virtio disk; volumes follow it.
ROOT_DEVICE_NAME = "/dev/vda"
DEVICE_PREFIX = "/dev/vd"


def of_instance(session: Session, instance_uuid: str) -> list[BlockDeviceMapping]:
    query = (
        select(BlockDeviceMapping)
        .where(BlockDeviceMapping.instance_uuid == instance_uuid)
        .order_by(BlockDeviceMapping.id)
    )
    return list(session.scalars(query))


def of_volume(session: Session, instance_uuid: str, volume_id: str) -> BlockDeviceMapping | None:
    query = select(BlockDeviceMapping).where(
        BlockDeviceMapping.instance_uuid == instance_uuid, BlockDeviceMapping.volume_id == volume_id
    )
    return session.scalars(query).first()


def block_device_info(session: Session, instance_uuid: str) -> list[dict[str, Any]]:
    """The volumes a VM of this server connects at boot (InstanceSpec.block_device_info): those attached
    (exported: connection_info known), the boot volume first."""
    return connected_volumes(of_instance(session, instance_uuid))


def connected_volumes(mappings: Iterable[BlockDeviceMapping]) -> list[dict[str, Any]]:
    """`block_device_info` of a server's mappings already read."""
    rows = [row for row in mappings if row.connection_info and row.volume_id]
    rows.sort(key=lambda row: (row.boot_index is None, row.boot_index or 0, row.device_name or ""))
    return [
        {
            "volume_id": row.volume_id,
            "connection_info": row.connection_info,
            "mountpoint": row.device_name,
            "boot_index": row.boot_index,
            "serial": str(row.volume_id)[:20],
        }
        for row in rows
    ]


_VOLUMES_ATTACHED = ValuesQuery(
    lambda in_page: (
        select(
            BlockDeviceMapping.instance_uuid,
            BlockDeviceMapping.volume_id,
            BlockDeviceMapping.delete_on_termination,
        )
        .where(in_page(BlockDeviceMapping.instance_uuid), BlockDeviceMapping.volume_id.is_not(None))
        .order_by(BlockDeviceMapping.id)
    )
)


def volumes_attached(session: Session, instance_uuids: Collection[str]) -> dict[str, list[dict[str, Any]]]:
    """Each server's `volumes_attached` (id and delete_on_termination), for a page of servers in one query."""
    attached: dict[str, list[dict[str, Any]]] = {uuid: [] for uuid in instance_uuids}
    if not attached:
        return attached
    for instance_uuid, volume_id, delete_on_termination in _VOLUMES_ATTACHED.execute(session, attached):
        volume = {"id": volume_id, "delete_on_termination": bool(delete_on_termination)}
        attached[instance_uuid].append(volume)
    return attached


def next_device_name(used: Iterable[str | None], *, root_is_volume: bool = False) -> str:
    """The first free virtio device name after the root disk (Nova's /dev/vdb, /dev/vdc, ...)."""
    taken = {name for name in used if name}
    if not root_is_volume:
        taken.add(ROOT_DEVICE_NAME)
    for letters in _device_letters():
        name = DEVICE_PREFIX + letters
        if name not in taken:
            return name
    raise ValueError("no free device name")  # 702 disks: far beyond what a VM's PCIe slots hold


def _device_letters() -> Iterable[str]:
    yield from string.ascii_lowercase
    for first in string.ascii_lowercase:
        for second in string.ascii_lowercase:
            yield first + second
