"""Typed RPC client of the portal service: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "portal"
BINARY = "overcast-portal"


class PortalServiceAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    VERSION: ClassVar[str] = "1.0"

    def run_now(self, ctxt: RequestContext) -> dict[str, Any]:
        """Run the periodic work now (call): {"mails_sent": n, "signups_expired": n}."""
        result: dict[str, Any] = self.client.call(ctxt, "run_now")
        return result
