"""The compute service's manager."""

from __future__ import annotations

from typing import ClassVar

from overcast.manager import Manager

TOPIC = "compute"


class ComputeManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.0"
    topic: ClassVar[str] = TOPIC
    binary: ClassVar[str] = "overcast-compute"
