"""A VolumeAPI on a real database with one registered, live volume host whose RPC client is a fake that
records what it was asked and answers like a fake-driver volume host."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from overcast.db.base import utcnow
from overcast.db.models.service import ServiceRecord
from overcast.db.models.volume import VolumePool
from overcast.volume.api.service import VolumeAPI
from overcast.volume.rpcapi import BINARY, TOPIC

ALICE = RequestContext(user_id="alice", project_id="project-a", roles=("member",))
BOB = RequestContext(user_id="bob", project_id="project-b", roles=("member",))
ADMIN = RequestContext(user_id="root", project_id="admin", roles=("admin", "member"), is_admin=True)
HOST = "volhost"
BACKEND = "pool"


@dataclass
class RecordingHosts:
    """Stands in for VolumeHostAPI: records each message and answers calls as a fake driver would."""

    messages: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    fail_connect: bool = False

    def create_volume(self, ctxt: RequestContext, host: str, volume_id: str, source: dict[str, Any]) -> None:
        self.messages.append(("create_volume", host, {"volume_id": volume_id, "source": source}))

    def delete_volume(self, ctxt: RequestContext, host: str, volume_id: str) -> None:
        self.messages.append(("delete_volume", host, {"volume_id": volume_id}))

    def initialize_connection(
        self,
        ctxt: RequestContext,
        host: str,
        volume_id: str,
        attachment_id: str,
        connector: dict[str, Any],
        timeout: float | None = None,
    ) -> dict[str, Any]:
        self.messages.append(
            ("initialize_connection", host, {"volume_id": volume_id, "attachment_id": attachment_id})
        )
        if self.fail_connect:
            raise RuntimeError("export failed")
        return {"driver_volume_type": "fake", "data": {"volume_id": volume_id}}

    def terminate_connection(
        self,
        ctxt: RequestContext,
        host: str,
        volume_id: str,
        attachment_id: str,
        timeout: float | None = None,
    ) -> None:
        self.messages.append(("terminate_connection", host, {"attachment_id": attachment_id}))

    def extend_volume(
        self, ctxt: RequestContext, host: str, volume_id: str, new_size: int, timeout: float | None = None
    ) -> None:
        self.messages.append(("extend_volume", host, {"volume_id": volume_id, "new_size": new_size}))

    def copy_volume_to_image(self, ctxt: RequestContext, host: str, volume_id: str, image_id: str) -> None:
        self.messages.append(("copy_volume_to_image", host, {"volume_id": volume_id, "image_id": image_id}))

    def names(self) -> list[str]:
        return [name for name, _, _ in self.messages]


def register_volume_host(db: Database, host: str = HOST, *, total_gb: float = 100.0) -> None:
    def write(session: Any) -> None:
        session.add(ServiceRecord(host=host, binary=BINARY, topic=TOPIC, last_seen_up=utcnow()))
        session.add(VolumePool(host=host, backend_name=BACKEND, total_gb=total_gb, free_gb=total_gb))

    db.write(write)


def volume_api(db: Database, data_dir: Path, hosts: RecordingHosts) -> VolumeAPI:
    transport = get_transport(f"inproc://volume-{uuid.uuid4().hex}")
    cloud = Cloud(settings=load_settings(data_dir=data_dir), db=db, transport=transport)
    return VolumeAPI(cloud, hosts)  # type: ignore[arg-type]
