"""Typed RPC client of the compute service: the only code that sends it messages."""

from __future__ import annotations

from typing import ClassVar

from overcast.compute.manager import TOPIC
from overcast.rpcapi import ServiceRPCAPI


class ComputeAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    VERSION: ClassVar[str] = "1.0"
