"""The support queue on /metrics, read from the database at scrape time (every API process reports the
same): `overcast_portal_tickets{status}`, how many tickets are in each status, and
`overcast_portal_ticket_oldest_wait_seconds`, how long the oldest ticket waiting on support (open, or
waiting-for-support) has waited since its last message: what an operator's alert watches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from overcast.db.engine import Database
from overcast.db.models.portal_tickets import Ticket
from overcast.portal.tickets_states import OPEN, STATUSES, WAITING_FOR_SUPPORT


class TicketsCollector:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self._db = db
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        counts, waiting_since = self._read()
        by_status, oldest = self._families()
        for status in STATUSES:
            by_status.add_metric([status], counts.get(status, 0))
        age = (self._clock() - waiting_since).total_seconds() if waiting_since else 0.0
        oldest.add_metric([], max(age, 0.0))
        yield by_status
        yield oldest

    def _read(self) -> tuple[dict[str, int], datetime | None]:
        with self._db.reader() as session:
            counts = dict(session.execute(select(Ticket.status, func.count()).group_by(Ticket.status)).all())
            waiting_since = session.scalar(
                select(func.min(Ticket.last_message_at)).where(Ticket.status.in_((OPEN, WAITING_FOR_SUPPORT)))
            )
        return counts, waiting_since

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily("overcast_portal_tickets", "Support tickets by status.", labels=["status"]),
            GaugeMetricFamily(
                "overcast_portal_ticket_oldest_wait_seconds",
                "How long the oldest ticket waiting on support has waited since its last message.",
            ),
        )
