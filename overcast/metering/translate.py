"""What each notification means for billing: the usage event it becomes, or nothing.

Only notifications that end an action carry the state a resource is billed in from then on (`.end`,
`.error`, and the single-shot ones: Glance's `image.activate`, `image.delete`, Cinder's `volume.retype`);
a `.start` changes nothing, so it is not recorded. Each payload is read fresh from the database by its
publisher, so the state in it is the state after the action.

Instances are billed by vm_state:
- running: active, rescued, resized (the new flavor runs, awaiting confirm) and paused (the guest keeps its
  memory and vCPUs on the host);
- stopped: stopped and suspended (the guest's memory is saved to disk: it holds the host's allocation but
  uses no CPU);
- shelved: shelved and shelved_offloaded (the snapshot image is billed on its own as image.gb);
- nothing: building, error (no usable guest), soft-deleted (the user deleted it; the grace period before
  the reclaim is the cloud's, and a restore starts billing again) and deleted.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from overcast.metering import usage
from overcast.metering.events import NewUsageEvent

GiB = 1024**3

INSTANCE_METRICS = {
    "active": usage.INSTANCE_RUNNING, "rescued": usage.INSTANCE_RUNNING,
    "resized": usage.INSTANCE_RUNNING, "paused": usage.INSTANCE_RUNNING,
    "stopped": usage.INSTANCE_STOPPED, "suspended": usage.INSTANCE_STOPPED,
    "shelved": usage.INSTANCE_SHELVED, "shelved_offloaded": usage.INSTANCE_SHELVED,
}  # fmt: skip
# Storage in these statuses holds no data (or is going): not billed.
UNBILLED_STORAGE = frozenset(
    {"creating", "error", "deleting", "deleted", "error_deleting", "queued", "killed"}
)
SINGLE_SHOT = frozenset({"image.activate", "image.delete", "image.upload", "volume.retype"})


def _gib(size_bytes: Any) -> Decimal:
    with decimal.localcontext() as exact:
        exact.prec = 60  # n / 2**30 has at most 30 decimals: exact
        return (Decimal(int(size_bytes or 0)) / GiB).normalize()


def _size(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def from_notification(
    event_type: str, payload: Mapping[str, Any], message_id: str, timestamp: datetime
) -> NewUsageEvent | None:
    if not (event_type.endswith((".end", ".error")) or event_type in SINGLE_SHOT):
        return None
    service = event_type.split(".", 1)[0]
    if event_type.startswith("compute.instance."):
        return instance_event(event_type, payload, message_id, timestamp)
    if service in ("volume", "snapshot", "backup"):
        return _storage(service, event_type, payload, message_id, timestamp)
    if service == "image":
        return image_event(event_type, payload, message_id, timestamp)
    if service == "floatingip":
        return _floating_ip(event_type, payload, message_id, timestamp)
    return None


def instance_event(
    event_type: str, payload: Mapping[str, Any], message_id: str, timestamp: datetime
) -> NewUsageEvent:
    flavor = payload.get("flavor") or {}
    metric = INSTANCE_METRICS.get(str(payload.get("state")))
    return NewUsageEvent(
        message_id=message_id, event_type=event_type, occurred_at=timestamp,
        project_id=str(payload.get("tenant_id") or ""), resource_type="instance",
        resource_id=str(payload["instance_id"]), metric=metric, quantity=Decimal(1),
        attributes=instance_attributes(flavor) if metric else {},
    )  # fmt: skip


def instance_attributes(flavor: Mapping[str, Any]) -> dict[str, str]:
    return {
        "flavor_id": str(flavor.get("flavorid", "")), "flavor_name": str(flavor.get("name", "")),
        "vcpus": str(flavor.get("vcpus", "")), "memory_mb": str(flavor.get("memory_mb", "")),
    }  # fmt: skip


STORAGE = {  # service: (id field, size field, metric)
    "volume": ("volume_id", "size", usage.VOLUME_GB),
    "snapshot": ("snapshot_id", "volume_size", usage.SNAPSHOT_GB),
    "backup": ("backup_id", "size", usage.BACKUP_GB),
}


def _storage(
    service: str, event_type: str, payload: Mapping[str, Any], message_id: str, timestamp: datetime
) -> NewUsageEvent:
    id_field, size_field, metric = STORAGE[service]
    gone = event_type.endswith("delete.end") or str(payload.get("status")) in UNBILLED_STORAGE
    attributes = (
        {} if gone or service == "backup" else {"volume_type": str(payload.get("volume_type_name", ""))}
    )
    return NewUsageEvent(
        message_id=message_id, event_type=event_type, occurred_at=timestamp,
        project_id=str(payload.get("tenant_id") or ""), resource_type=service,
        resource_id=str(payload[id_field]), metric=None if gone else metric,
        quantity=Decimal(0) if gone else _size(payload.get(size_field)), attributes=attributes,
    )  # fmt: skip


def image_event(
    event_type: str, payload: Mapping[str, Any], message_id: str, timestamp: datetime
) -> NewUsageEvent:
    gone = event_type == "image.delete" or str(payload.get("status")) != "active"
    return NewUsageEvent(
        message_id=message_id, event_type=event_type, occurred_at=timestamp,
        project_id=str(payload.get("owner") or ""), resource_type="image", resource_id=str(payload["id"]),
        metric=None if gone else usage.IMAGE_GB, quantity=Decimal(0) if gone else _gib(payload.get("size")),
        attributes={} if gone else {"disk_format": str(payload.get("disk_format") or "")},
    )  # fmt: skip


def _floating_ip(
    event_type: str, payload: Mapping[str, Any], message_id: str, timestamp: datetime
) -> NewUsageEvent:
    floating_ip = payload.get("floatingip") or {}
    gone = event_type == "floatingip.delete.end"
    return NewUsageEvent(
        message_id=message_id, event_type=event_type, occurred_at=timestamp,
        project_id=str(floating_ip.get("project_id") or floating_ip.get("tenant_id") or ""),
        resource_type="floating_ip", resource_id=str(floating_ip["id"]),
        metric=None if gone else usage.FLOATING_IP, quantity=Decimal(0) if gone else Decimal(1),
        attributes={} if gone else {"floating_ip_address": str(floating_ip.get("floating_ip_address", ""))},
    )  # fmt: skip
