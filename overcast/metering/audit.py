"""The periodic audit (Nova's `instance.exists`): the database against the events, healing what was lost.

For every instance and image the database knows, the state it bills as now is compared with the latest
usage event of that resource. When they differ (a lost notification, a service that died before sending
it) the audit records the missing change as an event with `source="audit"`, at the time the database says
it happened: `launched_at` for a running server nobody metered, `deleted_at` for a deletion, else the row's
`updated_at`. Resources whose row changed within `grace` are left alone: their notification may still be
on the bus. Volumes, snapshots, backups and floating IPs are deleted outright: one still billed whose row
is gone is healed as ended when the audit finds it (its deletion time went with the row), so a lost
delete bills at most one audit interval too long, never for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast.compute.notifications import instance_payload
from overcast.db.engine import Database
from overcast.db.models.compute import Instance
from overcast.db.models.image import Image
from overcast.db.models.metering import UsageEvent
from overcast.db.models.network import FloatingIP
from overcast.db.models.volume import Snapshot, Volume
from overcast.db.models.volume_backup import Backup
from overcast.metering import events, translate
from overcast.metering.events import NewUsageEvent
from overcast.metering.usage import RESOURCE_TYPES, latest_events, state_of
from overcast.volume.notifications import backup_payload, snapshot_payload, volume_payload

LOG = logging.getLogger(__name__)
DEFAULT_GRACE = timedelta(seconds=120)
# Resources whose rows are deleted with them (no deleted_at to read).
DELETED_OUTRIGHT: dict[str, Any] = {
    "volume": Volume, "snapshot": Snapshot, "backup": Backup, "floating_ip": FloatingIP,
}  # fmt: skip
STORAGE_PAYLOADS: dict[str, Callable[[Session, Any], dict[str, Any]]] = {
    "volume": volume_payload, "snapshot": snapshot_payload, "backup": backup_payload,
}  # fmt: skip


@dataclass(frozen=True)
class AuditResult:
    checked: int
    healed: list[NewUsageEvent]


def _billing_of(event: NewUsageEvent | UsageEvent | None) -> tuple[str | None, str, dict[str, str]]:
    if event is None:
        return None, "0", {}
    if isinstance(event, UsageEvent):
        state = state_of(event)
        return state.metric, str(state.quantity), dict(state.attributes)
    return event.metric, str(event.quantity), dict(event.attributes)


class UsageAudit:
    def __init__(self, db: Database, clock: Callable[[], datetime], grace: timedelta = DEFAULT_GRACE) -> None:
        self.db = db
        self.clock = clock
        self.grace = grace

    def run(self) -> AuditResult:
        now = self.clock()
        with self.db.reader() as session:
            expected = [*self._instances(session, now), *self._images(session, now)]
            expected += [*self._storage(session, now), *self._floating_ips(session, now)]
            latest = {kind: latest_events(session, kind) for kind in RESOURCE_TYPES}
            existing = {
                kind: set(session.scalars(select(model.id))) for kind, model in DELETED_OUTRIGHT.items()
            }
        healed = [
            _as_heal(_ended(last), now)
            for kind, ids in existing.items()
            for resource_id, last in latest[kind].items()
            if last.metric is not None and resource_id not in ids
        ]
        for event, first_billed_at in expected:
            last = latest[event.resource_type].get(event.resource_id)
            if _billing_of(event) == _billing_of(last):
                continue
            if last is None:
                if event.metric is None:
                    continue  # never billed, still not billed
                at = first_billed_at
            else:
                at = max(event.occurred_at, last.occurred_at)
            healed.append(_as_heal(event, at))
        if healed:
            self.db.write(lambda session: events.record(session, healed, now))
            for event in healed:
                LOG.warning(
                    "Usage audit healed %s %s: %s from %s (a notification was lost)",
                    event.resource_type, event.resource_id, event.metric or "not billed", event.occurred_at,
                )  # fmt: skip
        return AuditResult(checked=len(expected), healed=healed)

    def _instances(self, session: Session, now: datetime) -> Iterator[tuple[NewUsageEvent, datetime]]:
        """What each settled instance bills as, from when (its last change), and when its billing began."""
        query = select(Instance).where(Instance.task_state.is_(None), Instance.updated_at <= now - self.grace)
        for instance in session.scalars(query):
            changed_at = instance.deleted_at or instance.terminated_at or instance.updated_at
            event = translate.instance_event(
                "audit.instance.exists", instance_payload(session, instance), "", changed_at
            )
            yield event, instance.launched_at or changed_at

    def _storage(self, session: Session, now: datetime) -> Iterator[tuple[NewUsageEvent, datetime]]:
        for kind, build in STORAGE_PAYLOADS.items():
            model = DELETED_OUTRIGHT[kind]
            for row in session.scalars(select(model).where(model.updated_at <= now - self.grace)):
                event = translate.from_notification(
                    f"{kind}.exists.end", build(session, row), "", row.updated_at
                )
                assert event is not None
                yield event, getattr(row, "launched_at", None) or row.created_at

    def _floating_ips(self, session: Session, now: datetime) -> Iterator[tuple[NewUsageEvent, datetime]]:
        query = select(FloatingIP).where(FloatingIP.updated_at <= now - self.grace)
        for row in session.scalars(query):
            payload = {"floatingip": {"id": row.id, "project_id": row.project_id,
                                      "floating_ip_address": row.floating_ip_address}}  # fmt: skip
            event = translate.from_notification("floatingip.exists.end", payload, "", row.updated_at)
            assert event is not None
            yield event, row.created_at

    def _images(self, session: Session, now: datetime) -> Iterator[tuple[NewUsageEvent, datetime]]:
        for image in session.scalars(select(Image).where(Image.updated_at <= now - self.grace)):
            payload = {
                "id": image.id, "owner": image.owner, "size": image.size, "disk_format": image.disk_format,
                "status": "deleted" if image.deleted else image.status,
            }  # fmt: skip
            changed_at = image.deleted_at or image.updated_at
            yield translate.image_event("audit.image.exists", payload, "", changed_at), changed_at


def _ended(event: UsageEvent) -> NewUsageEvent:
    """The resource of `event`, billed for nothing from now on."""
    return NewUsageEvent(
        "", "audit.gone", event.occurred_at, event.project_id, event.resource_type, event.resource_id, None
    )


def _as_heal(event: NewUsageEvent, at: datetime) -> NewUsageEvent:
    key = f"audit/{event.resource_type}/{event.resource_id}/{event.metric}/{at.isoformat()}"
    return NewUsageEvent(
        message_id=key, event_type="audit.heal", occurred_at=at, project_id=event.project_id,
        resource_type=event.resource_type, resource_id=event.resource_id, metric=event.metric,
        quantity=event.quantity, attributes=event.attributes, source=events.AUDIT,
    )  # fmt: skip
