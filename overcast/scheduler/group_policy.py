"""The late server-group check (Nova's `_validate_instance_group_policy`): the compute host re-checks a
build against its group's hard policy just before it starts it.

The scheduler's filters read where the other members are when they place an instance, and that can be
outrun: two schedulers placing two members at once on PostgreSQL (read committed: neither sees the
other's uncommitted claim) both find the same host free of the group, and a reschedule claims an
alternate chosen before the other members had landed. Every build for a host passes through that host's
compute service, so it settles these: under its start lock, the member that starts first keeps the host,
and a later one that this host's members make break its policy is handed back for its next alternate.
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from overcast.compute import states
from overcast.db.models.compute import Instance
from overcast.db.models.server_groups import ServerGroup, ServerGroupMember

ANTI_AFFINITY = "anti-affinity"
AFFINITY = "affinity"


def started_member_hosts(session: Session, group_id: int, excluding: str) -> set[str]:
    """Hosts of the group's other live members that have started there (building, running, stopped,
    errored). A member still waiting in SCHEDULING has not: its own late check comes after ours."""
    return set(started_members_per_host(session, group_id, excluding))


def started_members_per_host(session: Session, group_id: int, excluding: str) -> Counter[str]:
    """How many of the group's other started members each host holds."""
    rows = session.scalars(
        select(Instance.host)
        .join(ServerGroupMember, ServerGroupMember.instance_uuid == Instance.uuid)
        .where(
            ServerGroupMember.group_id == group_id,
            Instance.uuid != excluding,
            Instance.deleted.is_(False),
            Instance.host.is_not(None),
            or_(Instance.task_state.is_(None), Instance.task_state != states.SCHEDULING),
        )
    )
    return Counter(host for host in rows if host)


def group_policy_violation(session: Session, instance_uuid: str, host: str) -> str | None:
    """Why starting `instance_uuid` on `host` would break its server group's hard policy; None if not."""
    group = session.execute(
        select(ServerGroup.id, ServerGroup.uuid, ServerGroup.policies, ServerGroup.rules)
        .join(ServerGroupMember, ServerGroupMember.group_id == ServerGroup.id)
        .where(ServerGroupMember.instance_uuid == instance_uuid)
    ).first()
    if group is None or not group.policies or group.policies[0] not in (ANTI_AFFINITY, AFFINITY):
        return None
    counts = started_members_per_host(session, group.id, instance_uuid)
    hosts = set(counts)
    # 2.64's max_server_per_host lets an anti-affinity group hold that many members per host.
    most = int((group.rules or {}).get("max_server_per_host") or 1)
    if group.policies[0] == ANTI_AFFINITY and counts[host] >= most:
        return (
            f"Anti-affinity instance group policy was violated: another member of server group "
            f"{group.uuid} is already on host {host}."
        )
    if group.policies[0] == AFFINITY and hosts and host not in hosts:
        return (
            f"Affinity instance group policy was violated: the members of server group {group.uuid} "
            f"are on {', '.join(sorted(hosts))}, not on {host}."
        )
    return None
