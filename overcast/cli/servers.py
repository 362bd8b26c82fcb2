"""`overcast server ...`: what users need beside the API, read from the cloud's database."""

from __future__ import annotations

from sqlalchemy import select

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import instance_extra, network_info
from overcast.db.models.compute import Instance


def find_server(cloud: Cloud, name_or_id: str) -> Instance:
    """The live server with this id, or the only one with this name (NotFound, Conflict if several)."""
    with cloud.db.reader() as session:
        live = select(Instance).where(Instance.deleted.is_(False))
        found = session.scalars(live.where(Instance.uuid == name_or_id)).first()
        if found is not None:
            return found
        named = list(session.scalars(live.where(Instance.display_name == name_or_id)))
    if not named:
        raise errors.NotFound(f"No server with a name or id of '{name_or_id}' exists.")
    if len(named) > 1:
        raise errors.Conflict(f"More than one server is named '{name_or_id}': use its id.")
    return named[0]


def ssh_command(cloud: Cloud, server: str) -> str:
    """`ssh -p PORT root@127.0.0.1` for a server whose guest's SSH port the compute host forwards."""
    instance = find_server(cloud, server)
    with cloud.db.reader() as session:
        info = instance_extra.system_metadata(session, instance.uuid).get(network_info.SYSTEM_METADATA_KEY)
    command = network_info.ssh_command(info)
    if command is None:
        raise errors.Conflict(
            f"Server {instance.uuid} has no forwarded SSH port (status {instance.vm_state}; "
            "only servers running on the QEMU driver have one)."
        )
    return command
