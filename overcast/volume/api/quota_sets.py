"""os-quota-sets and /limits under the volume API: a project's limits, usage and the defaults."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.quota import QuotaLimit
from overcast.errors import BadRequest
from overcast.quota import UNLIMITED
from overcast.volume import policies
from overcast.volume.quotas import VolumeQuotaEngine

# Cinder's absolute limits and the quota each reads.
ABSOLUTE_LIMITS = (
    ("maxTotalVolumes", "volumes"), ("maxTotalSnapshots", "snapshots"),
    ("maxTotalVolumeGigabytes", "gigabytes"),
    ("maxTotalBackups", "backups"), ("maxTotalBackupGigabytes", "backup_gigabytes"),
)  # fmt: skip
ABSOLUTE_USED = (
    ("totalVolumesUsed", "volumes"), ("totalGigabytesUsed", "gigabytes"), ("totalSnapshotsUsed", "snapshots"),
    ("totalBackupsUsed", "backups"), ("totalBackupGigabytesUsed", "backup_gigabytes"),
)  # fmt: skip


def _limit_value(resource: str, value: Any) -> int:
    if isinstance(value, bool):
        raise BadRequest(f"Invalid input received: Quota {resource} value {value!r} is not an integer.")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise BadRequest(
            f"Invalid input received: Quota {resource} value {value!r} is not an integer."
        ) from None
    if number < UNLIMITED or number > 2**31 - 1:
        raise BadRequest(
            f"Invalid input received: Quota limit {number} for {resource} must be -1 or greater."
        )
    return number


class QuotaSets:
    def __init__(self, db: Database, engine: VolumeQuotaEngine) -> None:
        self.db = db
        self.engine = engine

    def show(self, ctxt: RequestContext, project_id: str, *, usage: bool) -> dict[str, Any]:
        policy.enforce(ctxt, policies.QUOTA_SHOW, {"project_id": project_id})
        with self.db.reader() as session:
            limits = self.engine.get_limits(session, project_id)
            if not usage:
                return {"id": project_id, **limits}
            used = self.engine.get_usage(session, project_id)
        return {
            "id": project_id,
            **{
                resource: {"limit": limit, "in_use": used.get(resource, 0), "reserved": 0, "allocated": 0}
                for resource, limit in limits.items()
            },
        }

    def defaults(self, ctxt: RequestContext, project_id: str) -> dict[str, Any]:
        policy.enforce(ctxt, policies.QUOTA_SHOW, {"project_id": project_id})
        with self.db.reader() as session:
            return {"id": project_id, **self.engine.get_defaults(session)}

    def update(self, ctxt: RequestContext, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        policy.enforce(ctxt, policies.QUOTA_UPDATE, {"project_id": project_id})
        wanted = {
            key: value for key, value in body.items() if key not in ("id", "tenant_id", "skip_validation")
        }
        if not wanted:
            raise BadRequest("Missing required element 'quota_set' in request body.")
        limits = {resource: _limit_value(resource, value) for resource, value in wanted.items()}

        def write(session: Session) -> dict[str, Any]:
            known = self.engine.get_defaults(session)
            unknown = sorted(set(limits) - set(known))
            if unknown:
                raise BadRequest(f"Bad key(s) in quota set: {', '.join(unknown)}")
            return dict(self.engine.set_limits(session, project_id, limits, force=False))

        changed = self.db.write(write)
        return {resource: changed[resource] for resource in changed}

    def reset(self, ctxt: RequestContext, project_id: str) -> None:
        policy.enforce(ctxt, policies.QUOTA_DELETE, {"project_id": project_id})

        def write(session: Session) -> None:
            resources = list(self.engine.get_defaults(session))
            session.execute(
                delete(QuotaLimit).where(
                    QuotaLimit.project_id == project_id, QuotaLimit.resource.in_(resources)
                )
            )

        self.db.write(write)

    def absolute_limits(self, ctxt: RequestContext, project_id: str | None = None) -> dict[str, int]:
        target = project_id if project_id and ctxt.is_admin else ctxt.project_id or ""
        policy.enforce(ctxt, policies.LIMITS, {"project_id": target})
        with self.db.reader() as session:
            limits = self.engine.get_limits(session, target)
            used = self.engine.get_usage(session, target)
        return {
            **{name: limits[resource] for name, resource in ABSOLUTE_LIMITS},
            **{name: used.get(resource, 0) for name, resource in ABSOLUTE_USED},
        }
