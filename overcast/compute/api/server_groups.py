"""Server groups: the logic behind /os-server-groups, and joining a group at server create.

A group has one policy: affinity or anti-affinity (hard, enforced by the scheduler's filters), or from
microversion 2.15 soft-affinity / soft-anti-affinity (weighers). Members are the group's live instances;
quotas: server_groups per project and per user (counted), server_group_members per group (counted at join).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from overcast import errors
from overcast.compute.api.user_quotas import user_usage
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.compute import Instance
from overcast.db.models.server_groups import RequestSpecRecord, ServerGroup, ServerGroupMember
from overcast.quota import UNLIMITED, QuotaEngine

HARD_POLICIES = ("affinity", "anti-affinity")
SOFT_POLICIES = ("soft-affinity", "soft-anti-affinity")


@dataclass(frozen=True)
class GroupView:
    group: ServerGroup
    members: list[str]


def live_members(session: Session, group_id: int) -> list[str]:
    return list(
        session.scalars(
            select(ServerGroupMember.instance_uuid)
            .join(Instance, Instance.uuid == ServerGroupMember.instance_uuid)
            .where(ServerGroupMember.group_id == group_id, Instance.deleted.is_(False))
            .order_by(ServerGroupMember.id)
        )
    )


def _visible(session: Session, ctxt: RequestContext, group_uuid: str) -> ServerGroup:
    group = session.scalars(select(ServerGroup).where(ServerGroup.uuid == group_uuid)).first()
    if group is None or not (ctxt.is_admin or group.project_id == ctxt.project_id):
        raise errors.NotFound(f"Instance group {group_uuid} could not be found.")
    return group


def _limit(quotas: QuotaEngine, session: Session, project_id: str, resource: str) -> int:
    return quotas.get_limits(session, project_id)[resource]


class ServerGroupAPI:
    def __init__(self, db: Database, quotas: QuotaEngine) -> None:
        self.db = db
        self.quotas = quotas

    def create(
        self, ctxt: RequestContext, name: str, policies: Sequence[str], *, allow_soft: bool,
        rules: dict[str, Any] | None = None,
    ) -> GroupView:  # fmt: skip
        """`rules` (2.64): max_server_per_host, for anti-affinity only."""
        allowed = HARD_POLICIES + (SOFT_POLICIES if allow_soft else ())
        if len(policies) != 1 or policies[0] not in allowed:
            raise errors.BadRequest(f"Invalid input: policies must be exactly one of {', '.join(allowed)}.")
        rules = dict(rules or {})
        if rules and policies[0] != "anti-affinity":
            raise errors.BadRequest("Only anti-affinity policy supports rules.")
        if ctxt.project_id is None or ctxt.user_id is None:
            raise errors.Forbidden("Creating a server group needs a project-scoped token.")
        project_id, user_id = ctxt.project_id, ctxt.user_id

        def write(session: Session) -> GroupView:
            # Counted, not tracked, so a deleted group frees its quota with nothing to keep in step; the
            # writer's transaction (BEGIN IMMEDIATE on SQLite) serialises concurrent creates.
            used = session.scalar(
                select(func.count(ServerGroup.id)).where(ServerGroup.project_id == project_id)
            )
            limit = _limit(self.quotas, session, project_id, "server_groups")
            if limit != UNLIMITED and (used or 0) + 1 > limit:
                raise errors.QuotaExceeded("Quota exceeded, too many server groups.")
            self.quotas.check_user(
                session,
                project_id,
                user_id,
                {"server_groups": 1},
                lambda: user_usage(session, project_id, user_id),
            )
            group = ServerGroup(name=name, project_id=project_id, user_id=user_id, policies=list(policies),
                                metadata_items={}, rules=rules)  # fmt: skip
            session.add(group)
            session.flush()
            return GroupView(group, [])

        return self.db.write(write)

    def list(self, ctxt: RequestContext, *, all_projects: bool = False) -> list[GroupView]:
        with self.db.reader() as session:
            query = select(ServerGroup).order_by(ServerGroup.id)
            if not (all_projects and ctxt.is_admin):
                query = query.where(ServerGroup.project_id == ctxt.project_id)
            return [GroupView(group, live_members(session, group.id)) for group in session.scalars(query)]

    def get(self, ctxt: RequestContext, group_uuid: str) -> GroupView:
        with self.db.reader() as session:
            group = _visible(session, ctxt, group_uuid)
            return GroupView(group, live_members(session, group.id))

    def delete(self, ctxt: RequestContext, group_uuid: str) -> None:
        def write(session: Session) -> None:
            group = _visible(session, ctxt, group_uuid)
            session.execute(delete(ServerGroupMember).where(ServerGroupMember.group_id == group.id))
            session.delete(group)

        self.db.write(write)


def record_scheduler_hints(
    session: Session,
    ctxt: RequestContext,
    instance_uuids: Sequence[str],
    hints: dict[str, Any],
    quotas: QuotaEngine,
) -> None:
    """At server create, in its transaction: keep the hints for the scheduler and join the `group`."""
    if not hints:
        return
    group_uuid = hints.get("group")
    if group_uuid is not None:
        try:
            group = _visible(session, ctxt, str(group_uuid))
        except errors.NotFound:
            raise errors.BadRequest(f"Invalid server group {group_uuid}.") from None
        members = live_members(session, group.id)
        limit = _limit(quotas, session, group.project_id, "server_group_members")
        if limit != UNLIMITED and len(members) + len(instance_uuids) > limit:
            raise errors.QuotaExceeded("Quota exceeded, too many servers in group")
        for uuid in instance_uuids:
            session.add(ServerGroupMember(group_id=group.id, instance_uuid=uuid))
    for uuid in instance_uuids:
        session.add(RequestSpecRecord(instance_uuid=uuid, scheduler_hints=dict(hints)))
    session.flush()
