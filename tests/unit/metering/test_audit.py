"""The usage audit: the database against the latest events, healing what lost notifications missed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from overcast.db.engine import Database
from overcast.db.models.compute import Instance
from overcast.db.models.image import Image
from overcast.db.models.metering import UsageEvent
from overcast.db.models.volume import Volume
from overcast.metering import events
from overcast.metering.audit import UsageAudit
from overcast.metering.events import NewUsageEvent
from overcast.metering.usage import IMAGE_GB, INSTANCE_RUNNING, INSTANCE_STOPPED, VOLUME_GB, UsageReader
from tests.support.clock import FakeClock

T0 = datetime(2026, 3, 1, tzinfo=UTC)
# Cinder's default volume type, made by migration 0023.
DEFAULT_TYPE_ID = "5a3b8f4e-7c1d-4e0a-9a55-0c2f61d3b9e1"
TINY = {"flavor_id": "1", "flavor_name": "m1.tiny", "vcpus": "1", "memory_mb": "512"}


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


def add_instance(db: Database, uuid: str, vm_state: str, changed: float, **columns: Any) -> None:
    values: dict[str, Any] = {
        "uuid": uuid, "display_name": uuid, "project_id": "p1", "user_id": "u1", "flavor_id": "1",
        "vcpus": 1, "memory_mb": 512, "root_gb": 1, "vm_state": vm_state, "launched_at": minutes(0),
        "created_at": minutes(0), "updated_at": minutes(changed), **columns,
    }  # fmt: skip
    with db.writer() as session:
        session.add(Instance(**values))


def ran_from_start(db: Database, uuid: str) -> None:
    event = NewUsageEvent(
        f"{uuid}-create", "compute.instance.create.end", minutes(0), "p1", "instance", uuid,
        INSTANCE_RUNNING, Decimal(1), TINY,
    )  # fmt: skip
    with db.writer() as session:
        events.record(session, [event], minutes(0))


def healed_by(db: Database, now: float) -> list[tuple[str, str | None, datetime]]:
    result = UsageAudit(db, FakeClock(minutes(now))).run()
    return sorted((e.resource_id, e.metric, e.occurred_at) for e in result.healed)


def test_a_lost_create_stop_or_delete_is_healed_at_the_time_the_row_says(db: Database) -> None:
    add_instance(db, "never-metered", "active", changed=5)
    add_instance(db, "stopped-unseen", "stopped", changed=30)
    ran_from_start(db, "stopped-unseen")
    add_instance(db, "deleted-unseen", "deleted", changed=40, deleted=True, deleted_at=minutes(40))
    ran_from_start(db, "deleted-unseen")
    add_instance(db, "all-seen", "active", changed=0)
    ran_from_start(db, "all-seen")

    assert healed_by(db, now=60) == [
        ("deleted-unseen", None, minutes(40)),
        ("never-metered", INSTANCE_RUNNING, minutes(0)),
        ("stopped-unseen", INSTANCE_STOPPED, minutes(30)),
    ]
    assert healed_by(db, now=70) == []  # healed once, never again

    usage = UsageReader(db, FakeClock(minutes(60))).slices(minutes(0), minutes(60))
    spans = [(s.resource_id, s.metric, s.start, s.end) for s in usage]
    assert spans == [
        ("all-seen", INSTANCE_RUNNING, minutes(0), minutes(60)),
        ("deleted-unseen", INSTANCE_RUNNING, minutes(0), minutes(40)),
        ("never-metered", INSTANCE_RUNNING, minutes(0), minutes(60)),
        ("stopped-unseen", INSTANCE_RUNNING, minutes(0), minutes(30)),
        ("stopped-unseen", INSTANCE_STOPPED, minutes(30), minutes(60)),
    ]
    with db.reader() as session:
        sources = {
            e.resource_id: e.source for e in session.scalars(select(UsageEvent)) if e.source == "audit"
        }
    assert sources == {name: "audit" for name in ("deleted-unseen", "never-metered", "stopped-unseen")}


def test_rows_in_flux_are_left_to_their_notifications(db: Database) -> None:
    add_instance(
        db, "just-stopped", "stopped", changed=59
    )  # within the grace: its notification may be coming
    ran_from_start(db, "just-stopped")
    add_instance(db, "stopping", "active", changed=0, task_state="powering-off")
    assert healed_by(db, now=60) == []
    assert healed_by(db, now=62) == [("just-stopped", INSTANCE_STOPPED, minutes(59))]


def test_an_active_image_nobody_metered_is_billed_from_its_last_change(db: Database) -> None:
    with db.writer() as session:
        session.add(Image(id="img", owner="p1", status="active", size=2 * 1024**3, disk_format="raw",
                          created_at=minutes(0), updated_at=minutes(1)))  # fmt: skip
        session.add(
            Image(id="queued", owner="p1", status="queued", created_at=minutes(0), updated_at=minutes(0))
        )
    assert healed_by(db, now=60) == [("img", IMAGE_GB, minutes(1))]
    (image,) = UsageReader(db, FakeClock(minutes(60))).slices(minutes(0), minutes(60))
    assert (image.quantity, image.attributes, image.seconds) == (Decimal(2), {"disk_format": "raw"}, 59 * 60)


def test_storage_nobody_metered_is_billed_and_a_lost_delete_ends_when_the_audit_finds_it(
    db: Database,
) -> None:
    with db.writer() as session:
        session.add(Volume(
            id="vol-unmetered", project_id="p1", size=4, status="available", availability_zone="nova",
            volume_type_id=DEFAULT_TYPE_ID, launched_at=minutes(2), created_at=minutes(1),
            updated_at=minutes(2),
        ))  # fmt: skip
    gone = NewUsageEvent(
        "vol-gone-create", "volume.create.end", minutes(0), "p1", "volume", "vol-gone", VOLUME_GB, Decimal(8),
        {"volume_type": "__DEFAULT__"},
    )  # fmt: skip
    with db.writer() as session:
        events.record(session, [gone], minutes(0))

    assert healed_by(db, now=60) == [
        ("vol-gone", None, minutes(60)),
        ("vol-unmetered", VOLUME_GB, minutes(2)),
    ]
    assert healed_by(db, now=70) == []
    usage = UsageReader(db, FakeClock(minutes(90))).slices(minutes(0), minutes(90))
    assert [(s.resource_id, s.quantity, s.start, s.end) for s in usage] == [
        ("vol-gone", Decimal(8), minutes(0), minutes(60)),
        ("vol-unmetered", Decimal(4), minutes(2), minutes(90)),
    ]
