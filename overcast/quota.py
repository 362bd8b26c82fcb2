"""Per-project quotas: limits with defaults, usage counters, and consumption that cannot overshoot.

`QuotaEngine.consume(session, project_id, {"instances": 1, "cores": 2})` runs inside the writer()
transaction that creates the resource. It locks the project's usage rows (SELECT ... FOR UPDATE on
PostgreSQL and MySQL; SQLite's writer() holds the database write lock from BEGIN IMMEDIATE), checks
every delta against its limit and adds it, so concurrent requests are serialised per project and can
never exceed a limit. `release` gives usage back in the deleting transaction. A limit of -1 is unlimited.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from overcast.db.base import utcnow
from overcast.db.models.quota import QuotaClassLimit, QuotaLimit, QuotaUsage
from overcast.errors import BadRequest, QuotaExceeded

UNLIMITED = -1
DEFAULT_CLASS = "default"

# Nova's defaults (its quota API still shows Neutron's floating IPs and security groups) and Glance's.
DEFAULT_LIMITS: dict[str, int] = {
    "instances": 10,
    "cores": 20,
    "ram": 51200,
    "key_pairs": 100,
    "metadata_items": 128,
    "server_groups": 10,
    "server_group_members": 10,
    "floating_ips": 50,
    "security_groups": 10,
    "images": 100,
}


class QuotaEngine:
    def __init__(self, defaults: Mapping[str, int] | None = None) -> None:
        self.defaults = dict(defaults or DEFAULT_LIMITS)

    @property
    def resources(self) -> tuple[str, ...]:
        return tuple(self.defaults)

    def _check_resources(self, names: Mapping[str, int]) -> None:
        unknown = sorted(set(names) - set(self.defaults))
        if unknown:
            raise BadRequest(f"Unknown quota resources: {', '.join(unknown)}.")

    @staticmethod
    def _check_limit_values(limits: Mapping[str, int]) -> None:
        for resource, value in limits.items():
            if not isinstance(value, int) or isinstance(value, bool) or value < UNLIMITED:
                raise BadRequest(f"Quota limit {value!r} for {resource} must be an integer >= -1.")

    # Limits -------------------------------------------------------------------------------------------
    def get_defaults(self, session: Session) -> dict[str, int]:
        limits = dict(self.defaults)
        query = select(QuotaClassLimit).where(QuotaClassLimit.class_name == DEFAULT_CLASS)
        for row in session.scalars(query):
            if row.resource in limits:
                limits[row.resource] = row.hard_limit
        return limits

    def set_defaults(self, session: Session, limits: Mapping[str, int]) -> dict[str, int]:
        self._check_resources(limits)
        self._check_limit_values(limits)
        for resource, value in limits.items():
            row = session.get(QuotaClassLimit, (DEFAULT_CLASS, resource))
            if row is None:
                session.add(QuotaClassLimit(class_name=DEFAULT_CLASS, resource=resource, hard_limit=value))
            else:
                row.hard_limit = value
        session.flush()
        return self.get_defaults(session)

    def get_limits(self, session: Session, project_id: str) -> dict[str, int]:
        limits = self.get_defaults(session)
        for row in session.scalars(select(QuotaLimit).where(QuotaLimit.project_id == project_id)):
            if row.resource in limits:
                limits[row.resource] = row.hard_limit
        return limits

    def set_limits(
        self, session: Session, project_id: str, limits: Mapping[str, int], *, force: bool = False
    ) -> dict[str, int]:
        """Change a project's limits; lowering one below current usage needs force (as Nova's)."""
        self._check_resources(limits)
        self._check_limit_values(limits)
        usage = self._locked_usage(session, project_id, list(limits))
        for resource, value in limits.items():
            if not force and value != UNLIMITED and usage[resource].in_use > value:
                raise BadRequest(
                    f"Quota limit {value} for {resource} must be greater than or equal to already used and "
                    f"reserved {usage[resource].in_use}."
                )
            row = session.get(QuotaLimit, (project_id, resource))
            if row is None:
                session.add(QuotaLimit(project_id=project_id, resource=resource, hard_limit=value))
            else:
                row.hard_limit = value
        session.flush()
        return self.get_limits(session, project_id)

    def reset_limits(self, session: Session, project_id: str) -> None:
        """Back to the defaults (DELETE os-quota-sets/{project_id})."""
        session.execute(delete(QuotaLimit).where(QuotaLimit.project_id == project_id))

    # Usage --------------------------------------------------------------------------------------------
    def get_usage(self, session: Session, project_id: str) -> dict[str, int]:
        usage = dict.fromkeys(self.defaults, 0)
        for row in session.scalars(select(QuotaUsage).where(QuotaUsage.project_id == project_id)):
            if row.resource in usage:
                usage[row.resource] = row.in_use
        return usage

    def consume(self, session: Session, project_id: str, deltas: Mapping[str, int]) -> None:
        """Add `deltas` to the project's usage, or raise QuotaExceeded and change nothing."""
        wanted = {resource: amount for resource, amount in deltas.items() if amount}
        if not wanted:
            return
        self._check_resources(wanted)
        usage = self._locked_usage(session, project_id, sorted(wanted))
        limits = self.get_limits(session, project_id)
        for resource in sorted(wanted):
            amount = wanted[resource]
            limit = limits[resource]
            used = usage[resource].in_use
            if amount > 0 and limit != UNLIMITED and used + amount > limit:
                raise QuotaExceeded(
                    f"Quota exceeded for {resource}: Requested {amount}, but already used {used} of "
                    f"{limit} {resource}",
                    resource=resource,
                    requested=amount,
                    used=used,
                    limit=limit,
                )
        for resource, amount in wanted.items():
            usage[resource].in_use = max(0, usage[resource].in_use + amount)
        session.flush()

    def release(self, session: Session, project_id: str, deltas: Mapping[str, int]) -> None:
        """Give usage back (the resource was deleted); never drops below zero."""
        self.consume(session, project_id, {resource: -abs(amount) for resource, amount in deltas.items()})

    def _locked_usage(self, session: Session, project_id: str, resources: list[str]) -> dict[str, QuotaUsage]:
        """The project's usage rows for `resources`, created when missing, locked until commit."""
        self._insert_missing(session, project_id, resources)
        query = (
            select(QuotaUsage)
            .where(QuotaUsage.project_id == project_id, QuotaUsage.resource.in_(resources))
            .order_by(QuotaUsage.resource)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return {row.resource: row for row in session.scalars(query)}

    @staticmethod
    def _insert_missing(session: Session, project_id: str, resources: list[str]) -> None:
        if not resources:  # a multi-row INSERT of no rows is not SQL
            return
        now = utcnow()
        values = [
            {"project_id": project_id, "resource": r, "in_use": 0, "created_at": now, "updated_at": now}
            for r in resources
        ]
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            session.execute(postgresql.insert(QuotaUsage).values(values).on_conflict_do_nothing())
        elif dialect == "sqlite":
            session.execute(sqlite.insert(QuotaUsage).values(values).on_conflict_do_nothing())
        else:
            existing = set(
                session.scalars(
                    select(QuotaUsage.resource).where(
                        QuotaUsage.project_id == project_id, QuotaUsage.resource.in_(resources)
                    )
                )
            )
            for value in values:
                if value["resource"] not in existing:
                    session.add(QuotaUsage(**value))
            session.flush()
