"""What a user holds inside their project, counted from the records as Nova counts it for per-user
quotas: their servers with those servers' cores and RAM, and their server groups. The project's own
usage stays in the quota engine's counters; only limits a user has of their own are checked against this."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from overcast.db.models.compute import Instance
from overcast.db.models.server_groups import ServerGroup

USER_COUNTED = ("instances", "cores", "ram", "server_groups")


def user_usage(session: Session, project_id: str, user_id: str) -> dict[str, int]:
    servers, cores, ram = session.execute(
        select(
            func.count(Instance.id), func.coalesce(func.sum(Instance.vcpus), 0),
            func.coalesce(func.sum(Instance.memory_mb), 0),
        ).where(Instance.project_id == project_id, Instance.user_id == user_id, Instance.deleted.is_(False))
    ).one()  # fmt: skip
    groups = session.scalar(
        select(func.count(ServerGroup.id)).where(
            ServerGroup.project_id == project_id, ServerGroup.user_id == user_id
        )
    )
    return {"instances": servers, "cores": int(cores), "ram": int(ram), "server_groups": groups or 0}
