"""Typed RPC client of the billing service: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "billing"
BINARY = "overcast-billing"


class BillingServiceAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    VERSION: ClassVar[str] = "1.0"

    def check_now(self, ctxt: RequestContext) -> dict[str, Any]:
        """Run the periodic checks now (call): {"invoices": [ids drafted or issued], "alerts": [{account_id,
        percentage, spent}], "over_limit": [account ids], "stopped": [server ids]}."""
        result: dict[str, Any] = self.client.call(ctxt, "check_now")
        return result
