"""Typed RPC client of the metering service: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "metering"
BINARY = "overcast-metering"


class MeteringAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    VERSION: ClassVar[str] = "1.0"

    def audit_now(self, ctxt: RequestContext) -> dict[str, Any]:
        """Run the usage audit now (call): {"checked": n, "healed": [{resource_type, resource_id, metric,
        occurred_at}, ...]}."""
        result: dict[str, Any] = self.client.call(ctxt, "audit_now")
        return result
