"""Per-project quotas: limits with defaults, usage counters, and consumption that cannot overshoot.

`QuotaEngine.consume(session, project_id, {"instances": 1, "cores": 2})` runs inside the writer()
transaction that creates the resource. It locks the project's usage rows (SELECT ... FOR UPDATE on
PostgreSQL and MySQL; SQLite's writer() holds the database write lock from BEGIN IMMEDIATE), checks
every delta against its limit and adds it, so concurrent requests are serialised per project and can
never exceed a limit. `release` gives usage back in the deleting transaction. A limit of -1 is unlimited.

Per-user limits (Nova's legacy quota driver): a user may get a limit of their own inside the project's.
A user without one has the project's limit. The sum of the users' own limits fits in the project's limit
(a user's limit may grow only into what the other users' limits leave of it), and the project's limit
cannot drop below that sum. What a user holds is counted by the service that owns the resource.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from overcast.db.base import utcnow
from overcast.db.models.quota import QuotaClassLimit, QuotaLimit, QuotaUsage, QuotaUserLimit
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


def _refuse_beyond(resource: str, amount: int, used: int, limit: int) -> None:
    """QuotaExceeded (Nova's message) when `amount` more of `resource` would pass `limit`."""
    if amount > 0 and limit != UNLIMITED and used + amount > limit:
        raise QuotaExceeded(
            f"Quota exceeded for {resource}: Requested {amount}, but already used {used} of "
            f"{limit} {resource}",
            resource=resource,
            requested=amount,
            used=used,
            limit=limit,
        )


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
        given_to_users = self._user_limit_sums(session, project_id)
        for resource, value in limits.items():
            minimum = max(usage[resource].in_use, given_to_users.get(resource, 0))
            if not force and value != UNLIMITED and minimum > value:
                raise BadRequest(
                    f"Quota limit {value} for {resource} must be greater than or equal to already used and "
                    f"reserved {minimum}."
                )
            row = session.get(QuotaLimit, (project_id, resource))
            if row is None:
                session.add(QuotaLimit(project_id=project_id, resource=resource, hard_limit=value))
            else:
                row.hard_limit = value
        session.flush()
        return self.get_limits(session, project_id)

    def reset_limits(self, session: Session, project_id: str) -> None:
        """Back to the defaults (DELETE os-quota-sets/{project_id}), the users' own limits with them."""
        session.execute(delete(QuotaLimit).where(QuotaLimit.project_id == project_id))
        session.execute(delete(QuotaUserLimit).where(QuotaUserLimit.project_id == project_id))

    # Per-user limits ----------------------------------------------------------------------------------
    def get_user_limits(self, session: Session, project_id: str, user_id: str) -> dict[str, int]:
        """The user's limits: their own where set, the project's elsewhere."""
        return {**self.get_limits(session, project_id), **self.own_user_limits(session, project_id, user_id)}

    def own_user_limits(self, session: Session, project_id: str, user_id: str) -> dict[str, int]:
        query = select(QuotaUserLimit).where(
            QuotaUserLimit.project_id == project_id, QuotaUserLimit.user_id == user_id
        )
        rows = session.scalars(query)
        return {row.resource: row.hard_limit for row in rows if row.resource in self.defaults}

    def set_user_limits(
        self,
        session: Session,
        project_id: str,
        user_id: str,
        limits: Mapping[str, int],
        used: Mapping[str, int],
        *,
        force: bool = False,
    ) -> dict[str, int]:
        """Give a user limits of their own: at least what they hold (`used`), at most what the project's
        limit leaves once the other users' own limits are taken out; force skips both checks."""
        self._check_resources(limits)
        self._check_limit_values(limits)
        # Locks the project's usage rows: concurrent changes to the project's limits wait for this one.
        self._locked_usage(session, project_id, sorted(limits))
        project_limits = self.get_limits(session, project_id)
        given_to_users = self._user_limit_sums(session, project_id)
        own = self.own_user_limits(session, project_id, user_id)
        for resource, value in limits.items():
            if force:
                continue
            minimum = used.get(resource, 0)
            if value != UNLIMITED and value < minimum:
                raise BadRequest(
                    f"Quota limit {value} for {resource} must be greater than or equal to already used and "
                    f"reserved {minimum}."
                )
            project_limit = project_limits[resource]
            if project_limit == UNLIMITED:
                continue
            maximum = project_limit - given_to_users.get(resource, 0) + max(own.get(resource, 0), 0)
            if value == UNLIMITED or value > maximum:
                raise BadRequest(
                    f"Quota limit {value} for {resource} must be less than or equal to {maximum}."
                )
        for resource, value in limits.items():
            row = session.get(QuotaUserLimit, (project_id, user_id, resource))
            if row is None:
                row = QuotaUserLimit(project_id=project_id, user_id=user_id, resource=resource)
                session.add(row)
            row.hard_limit = value
        session.flush()
        return self.get_user_limits(session, project_id, user_id)

    def reset_user_limits(self, session: Session, project_id: str, user_id: str) -> None:
        """The user has the project's limits again (DELETE os-quota-sets/{project_id}?user_id=)."""
        session.execute(
            delete(QuotaUserLimit).where(
                QuotaUserLimit.project_id == project_id, QuotaUserLimit.user_id == user_id
            )
        )

    def check_user(
        self,
        session: Session,
        project_id: str,
        user_id: str,
        deltas: Mapping[str, int],
        count: Callable[[], Mapping[str, int]],
    ) -> None:
        """QuotaExceeded when `deltas` take the user past a limit of their own, `count` telling what they
        hold (asked only when they have such a limit). Run it after `consume` in the same transaction:
        consume's locks serialise the project's writers, so the count cannot go stale. Without an own
        limit the project's check is the whole check (a user holds no more than the project)."""
        own = self.own_user_limits(session, project_id, user_id)
        if not own.keys() & {resource for resource, amount in deltas.items() if amount > 0}:
            return
        used = count()
        for resource in sorted(deltas):
            _refuse_beyond(resource, deltas[resource], used.get(resource, 0), own.get(resource, UNLIMITED))

    @staticmethod
    def _user_limit_sums(session: Session, project_id: str) -> dict[str, int]:
        """Per resource, the sum of the limits the project's users have of their own (unlimited aside)."""
        sums: dict[str, int] = {}
        query = select(QuotaUserLimit).where(QuotaUserLimit.project_id == project_id)
        for row in session.scalars(query):
            if row.hard_limit != UNLIMITED:
                sums[row.resource] = sums.get(row.resource, 0) + row.hard_limit
        return sums

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
            _refuse_beyond(resource, wanted[resource], usage[resource].in_use, limits[resource])
        for resource, amount in wanted.items():
            usage[resource].in_use = max(0, usage[resource].in_use + amount)
        session.flush()

    def release(self, session: Session, project_id: str, deltas: Mapping[str, int]) -> None:
        """Give usage back (the resource was deleted); never drops below zero."""
        self.consume(session, project_id, {resource: -abs(amount) for resource, amount in deltas.items()})

    def _locked_usage(self, session: Session, project_id: str, resources: list[str]) -> dict[str, QuotaUsage]:
        """The project's usage rows for `resources`, created when missing, locked until commit."""
        query = (
            select(QuotaUsage)
            .where(QuotaUsage.project_id == project_id, QuotaUsage.resource.in_(resources))
            .order_by(QuotaUsage.resource)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        rows = {row.resource: row for row in session.scalars(query)}
        if len(rows) == len(set(resources)):  # the rows exist once the project has used anything
            return rows
        self._insert_missing(session, project_id, resources)
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
