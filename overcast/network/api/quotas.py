"""The networking resources' quotas (Neutron's names and defaults), counted in each create's transaction."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from overcast.errors import QuotaExceeded
from overcast.network.api.errors import OverQuota
from overcast.quota import QuotaEngine

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
}


class NetworkQuotas:
    def __init__(self, engine: QuotaEngine | None = None) -> None:
        self.engine = engine or QuotaEngine(NETWORK_QUOTA_DEFAULTS)

    def consume(self, session: Session, project_id: str, deltas: Mapping[str, int]) -> None:
        """Count new resources, or raise Neutron's 409 OverQuota and count nothing."""
        try:
            self.engine.consume(session, project_id, deltas)
        except QuotaExceeded as exceeded:
            resource = exceeded.details.get("resource", "")
            raise OverQuota(f"Quota exceeded for resources: ['{resource}'].") from None

    def release(self, session: Session, project_id: str, deltas: Mapping[str, int]) -> None:
        self.engine.release(session, project_id, deltas)
