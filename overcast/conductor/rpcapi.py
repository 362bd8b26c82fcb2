"""Typed RPC client of the conductor service: the only code that sends it messages."""

from __future__ import annotations

from typing import ClassVar

from overcast.conductor.manager import TOPIC
from overcast.rpcapi import ServiceRPCAPI


class ConductorAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    VERSION: ClassVar[str] = "1.0"
