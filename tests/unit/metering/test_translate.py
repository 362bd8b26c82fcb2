"""Which notifications become usage events, and what each bills as."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from overcast.metering import translate, usage

AT = datetime(2026, 3, 1, 12, tzinfo=UTC)
FLAVOR = {"flavorid": "2", "name": "m1.small", "vcpus": 1, "memory_mb": 2048}


def instance(state: str) -> dict[str, Any]:
    return {"instance_id": "vm-1", "tenant_id": "p1", "state": state, "flavor": FLAVOR}


def meant(event_type: str, payload: dict[str, Any]) -> tuple[str, str | None, Decimal, dict[str, str]] | None:
    event = translate.from_notification(event_type, payload, "m-1", AT)
    if event is None:
        return None
    return event.resource_type, event.metric, event.quantity, dict(event.attributes)


@pytest.mark.parametrize(
    ("state", "metric"),
    [
        ("active", usage.INSTANCE_RUNNING), ("rescued", usage.INSTANCE_RUNNING),
        ("resized", usage.INSTANCE_RUNNING), ("paused", usage.INSTANCE_RUNNING),
        ("stopped", usage.INSTANCE_STOPPED), ("suspended", usage.INSTANCE_STOPPED),
        ("shelved", usage.INSTANCE_SHELVED), ("shelved_offloaded", usage.INSTANCE_SHELVED),
        ("building", None), ("error", None), ("soft-delete", None), ("deleted", None),
    ],
)  # fmt: skip
def test_an_instance_is_billed_by_the_state_its_action_left_it_in(state: str, metric: str | None) -> None:
    result = meant("compute.instance.some_action.end", instance(state))
    assert result is not None
    assert result[:2] == ("instance", metric)
    if metric is not None:
        assert result[3] == {"flavor_id": "2", "flavor_name": "m1.small", "vcpus": "1", "memory_mb": "2048"}


def test_start_notifications_and_other_services_mean_nothing() -> None:
    assert meant("compute.instance.power_off.start", instance("active")) is None
    assert meant("identity.project.created", {"resource_info": "p1"}) is None
    assert meant("port.create.end", {"port": {"id": "x"}}) is None


def test_an_error_ends_with_the_state_the_database_has() -> None:
    assert meant("compute.instance.resize.error", instance("active")) == (
        "instance", usage.INSTANCE_RUNNING, Decimal(1), translate.instance_attributes(FLAVOR)
    )  # fmt: skip


def test_volumes_snapshots_and_backups_bill_their_size_until_deleted() -> None:
    volume = {
        "volume_id": "v",
        "tenant_id": "p",
        "size": 10,
        "status": "available",
        "volume_type_name": "ssd",
    }
    assert meant("volume.create.end", volume) == (
        "volume",
        usage.VOLUME_GB,
        Decimal(10),
        {"volume_type": "ssd"},
    )
    assert meant("volume.resize.end", {**volume, "size": 20})[2] == Decimal(20)  # type: ignore[index]
    assert meant("volume.retype", {**volume, "volume_type_name": "hdd"})[3] == {"volume_type": "hdd"}  # type: ignore[index]
    assert meant("volume.delete.end", {**volume, "status": "deleted"}) == ("volume", None, Decimal(0), {})
    assert meant("volume.create.end", {**volume, "status": "error"}) == ("volume", None, Decimal(0), {})
    snapshot = {"snapshot_id": "s", "tenant_id": "p", "volume_size": 10, "status": "available"}
    assert meant("snapshot.create.end", snapshot)[:3] == ("snapshot", usage.SNAPSHOT_GB, Decimal(10))  # type: ignore[index]
    backup = {"backup_id": "b", "tenant_id": "p", "size": 3, "status": "available"}
    assert meant("backup.create.end", backup) == ("backup", usage.BACKUP_GB, Decimal(3), {})
    assert meant("backup.delete.end", {**backup, "status": "deleted"}) == ("backup", None, Decimal(0), {})


def test_images_bill_their_exact_size_in_gib_while_active() -> None:
    image = {
        "id": "i",
        "owner": "p",
        "size": 3 * 1024**3 // 2 + 1,
        "status": "active",
        "disk_format": "qcow2",
    }
    result = meant("image.activate", image)
    assert result is not None
    assert result[:2] == ("image", usage.IMAGE_GB) and result[3] == {"disk_format": "qcow2"}
    assert result[2] * 1024**3 == 3 * 1024**3 // 2 + 1  # exact: no rounding of a byte
    assert meant("image.delete", {**image, "status": "deleted"}) == ("image", None, Decimal(0), {})


def test_floating_ips_bill_one_address_until_released() -> None:
    body = {"floatingip": {"id": "f", "project_id": "p", "floating_ip_address": "203.0.113.5"}}
    assert meant("floatingip.create.end", body) == (
        "floating_ip", usage.FLOATING_IP, Decimal(1), {"floating_ip_address": "203.0.113.5"}
    )  # fmt: skip
    assert meant("floatingip.delete.end", body) == ("floating_ip", None, Decimal(0), {})
