"""Typed RPC client of the scheduler service: the only code that sends it messages."""

from __future__ import annotations

from typing import ClassVar

from overcast.scheduler.manager import TOPIC
from overcast.rpcapi import ServiceRPCAPI


class SchedulerAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    VERSION: ClassVar[str] = "1.0"
