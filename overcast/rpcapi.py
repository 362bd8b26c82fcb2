"""Base of every service's typed RPC client (`<service>/rpcapi.py`)."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.bus import RPCClient, Target, Transport
from overcast.context import RequestContext


class ServiceRPCAPI:
    """Only a service's own rpcapi sends it messages; subclasses add one typed method per RPC call."""

    TOPIC: ClassVar[str] = ""
    # The highest version of the manager's API this client knows how to speak.
    VERSION: ClassVar[str] = "1.0"

    def __init__(self, transport: Transport, timeout: float = 60.0) -> None:
        self.client = RPCClient(transport, Target(topic=self.TOPIC), version=self.VERSION, timeout=timeout)

    def ping(
        self, ctxt: RequestContext, host: str | None = None, payload: Any = None, timeout: float | None = None
    ) -> dict[str, Any]:
        client = self.client.prepare(host=host, timeout=timeout)
        result: dict[str, Any] = client.call(ctxt, "ping", payload=payload)
        return result
