"""compute.instance.<action>.start/.end/.error notifications, with the payload metering reads.

The payload carries Nova's legacy flat fields (instance_id, tenant_id, instance_type, memory_mb, ...)
plus the flavor as one object, so a usage meter can bill from the notification alone.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.cloud import Cloud
from overcast.compute import states
from overcast.context import RequestContext
from overcast.db.models.compute import Flavor, Instance

EVENT_PREFIX = "compute.instance"


def instance_payload(session: Session, instance: Instance) -> dict[str, Any]:
    flavor = session.scalars(select(Flavor).where(Flavor.flavorid == instance.flavor_id)).first()
    flavor_name = flavor.name if flavor is not None else ""
    return {
        "instance_id": instance.uuid,
        "display_name": instance.display_name,
        "tenant_id": instance.project_id,
        "user_id": instance.user_id,
        "host": instance.host,
        "node": instance.node,
        "image_ref": instance.image_ref,
        "flavor": {
            "flavorid": instance.flavor_id, "name": flavor_name, "vcpus": instance.vcpus,
            "memory_mb": instance.memory_mb, "root_gb": instance.root_gb,
            "ephemeral_gb": instance.ephemeral_gb,
        },
        "instance_type": flavor_name,
        "instance_flavor_id": instance.flavor_id,
        "vcpus": instance.vcpus,
        "memory_mb": instance.memory_mb,
        "root_gb": instance.root_gb,
        "ephemeral_gb": instance.ephemeral_gb,
        "disk_gb": instance.root_gb + instance.ephemeral_gb,
        "state": instance.vm_state,
        "state_description": instance.task_state or "",
        "status": states.status_from_state(instance.vm_state, instance.task_state),
        "power_state": instance.power_state,
        "created_at": instance.created_at,
        "launched_at": instance.launched_at,
        "deleted_at": instance.deleted_at,
        "terminated_at": instance.terminated_at,
    }  # fmt: skip


class InstanceNotifier:
    """Sends one notification about an instance, read fresh from the database (deleted rows too)."""

    def __init__(self, cloud: Cloud, publisher_id: str) -> None:
        self.db = cloud.db
        self.notifier = cloud.notifier(publisher_id)

    def notify(self, ctxt: RequestContext, instance_uuid: str, event: str, **extra: Any) -> None:
        """`event` is "<action>.start", "<action>.end" or "<action>.error" (sent with ERROR priority)."""
        with self.db.reader() as session:
            payload = self.payload(session, instance_uuid)
        if payload is not None:
            self.send(ctxt, event, {**payload, **extra})

    @staticmethod
    def payload(session: Session, instance_uuid: str) -> dict[str, Any] | None:
        """The instance as `session` sees it now (None if there is no such row), read in the caller's
        transaction so a state change and the notification that reports it need one transaction."""
        fresh = (
            select(Instance).where(Instance.uuid == instance_uuid).execution_options(populate_existing=True)
        )
        instance = session.scalars(fresh).first()
        return None if instance is None else instance_payload(session, instance)

    def send(self, ctxt: RequestContext, event: str, payload: dict[str, Any]) -> None:
        event_type = f"{EVENT_PREFIX}.{event}"
        if event.endswith(".error"):
            self.notifier.error(ctxt, event_type, payload)
        else:
            self.notifier.info(ctxt, event_type, payload)
