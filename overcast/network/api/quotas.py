"""The networking resources' quotas (Neutron's names and defaults), counted in each create's transaction,
and GET/PUT/DELETE /v2.0/quotas/{project} with its /details and /default."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from overcast import policy
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.quota import QuotaLimit
from overcast.errors import QuotaExceeded
from overcast.network import policies
from overcast.network.api.errors import InvalidInput, InvalidQuotaValue, OverQuota, PolicyNotAuthorized
from overcast.quota import UNLIMITED, QuotaEngine

# Neutron's [quotas] defaults. The names differ from compute's (floating_ips, security_groups), so
# both engines share the usage table without meeting.
NETWORK_QUOTA_DEFAULTS: dict[str, int] = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    # Neutron tracks subnet pools without a configured default: unlimited.
    "subnetpool": -1,
}


def _limit(resource: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"'{value}' is not an integer for quota {resource}.")
    text = str(value).strip()
    number = int(text) if text.lstrip("-").isascii() and text.lstrip("-").isdigit() else None
    if number is None or number < UNLIMITED or number > 2**31 - 1:
        raise InvalidInput(
            f"'{value}' is not a valid quota for {resource}: an integer from -1 (unlimited) up."
        )
    return number


class NetworkQuotas:
    def __init__(self, engine: QuotaEngine | None = None) -> None:
        self.engine = engine or QuotaEngine(NETWORK_QUOTA_DEFAULTS)

    # --- in the resources' own transactions ------------------------------------------------------------
    def consume(self, session: Session, project_id: str, deltas: Mapping[str, int]) -> None:
        """Count new resources, or raise Neutron's 409 OverQuota and count nothing."""
        try:
            self.engine.consume(session, project_id, deltas)
        except QuotaExceeded as exceeded:
            resource = exceeded.details.get("resource", "")
            raise OverQuota(f"Quota exceeded for resources: ['{resource}'].") from None

    def release(self, session: Session, project_id: str, deltas: Mapping[str, int]) -> None:
        self.engine.release(session, project_id, deltas)


class QuotaAPI:
    """What /v2.0/quotas serves: a project's limits (its readers see them; admins change them)."""

    def __init__(self, db: Database, quotas: NetworkQuotas) -> None:
        self.db = db
        self.engine = quotas.engine

    @staticmethod
    def _enforce(ctxt: RequestContext, rule: str, project_id: str) -> None:
        policy.enforce(ctxt, rule, {"project_id": project_id}, error=PolicyNotAuthorized)

    def limits(self, ctxt: RequestContext, project_id: str) -> dict[str, Any]:
        self._enforce(ctxt, policies.GET_QUOTA, project_id)
        with self.db.reader() as session:
            return {
                **self.engine.get_limits(session, project_id),
                "project_id": project_id,
                "tenant_id": project_id,
            }

    def defaults(self, ctxt: RequestContext, project_id: str) -> dict[str, Any]:
        self._enforce(ctxt, policies.GET_QUOTA, project_id)
        with self.db.reader() as session:
            return {**self.engine.get_defaults(session), "project_id": project_id, "tenant_id": project_id}

    def details(self, ctxt: RequestContext, project_id: str) -> dict[str, Any]:
        self._enforce(ctxt, policies.GET_QUOTA, project_id)
        with self.db.reader() as session:
            limits = self.engine.get_limits(session, project_id)
            usage = self.engine.get_usage(session, project_id)
        return {
            resource: {"limit": limit, "used": usage.get(resource, 0), "reserved": 0}
            for resource, limit in limits.items()
        }

    def list(self, ctxt: RequestContext) -> list[dict[str, Any]]:
        """The projects with limits of their own (Neutron lists only those) that the caller may read."""
        with self.db.reader() as session:
            resources = list(self.engine.resources)
            query = select(QuotaLimit.project_id).where(QuotaLimit.resource.in_(resources)).distinct()
            projects = [
                project
                for project in sorted(session.scalars(query))
                if policy.authorize(ctxt, policies.GET_QUOTA, {"project_id": project})
            ]
            return [
                {**self.engine.get_limits(session, project), "project_id": project, "tenant_id": project}
                for project in projects
            ]

    def update(self, ctxt: RequestContext, project_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        self._enforce(ctxt, policies.UPDATE_QUOTA, project_id)
        check_limit = body.get("check_limit", False)
        if not isinstance(check_limit, bool):
            raise InvalidInput(f"'{check_limit}' is not a boolean for check_limit.")
        unknown = sorted(set(body) - set(self.engine.resources) - {"check_limit"})
        if unknown:
            raise InvalidInput(f"Unrecognized attribute(s) '{', '.join(unknown)}'")
        limits = {
            resource: _limit(resource, value) for resource, value in body.items() if resource != "check_limit"
        }

        def write(session: Session) -> dict[str, Any]:
            if check_limit:
                usage = self.engine.get_usage(session, project_id)
                for resource, limit in limits.items():
                    if limit != UNLIMITED and usage[resource] > limit:
                        raise InvalidQuotaValue(
                            f"Quota limit {limit} for {resource} must be greater than or equal to already "
                            f"used {usage[resource]}."
                        )
            changed = self.engine.set_limits(session, project_id, limits, force=True)
            return {**changed, "project_id": project_id, "tenant_id": project_id}

        return self.db.write(write)

    def reset(self, ctxt: RequestContext, project_id: str) -> None:
        self._enforce(ctxt, policies.DELETE_QUOTA, project_id)

        def write(session: Session) -> None:
            for row in session.scalars(
                select(QuotaLimit).where(
                    QuotaLimit.project_id == project_id, QuotaLimit.resource.in_(list(self.engine.resources))
                )
            ):
                session.delete(row)

        self.db.write(write)
