"""Typed RPC client of the conductor service: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.conductor.manager import TOPIC
from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI


class ConductorAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: build_instances
    VERSION: ClassVar[str] = "1.1"

    def build_instances(
        self,
        ctxt: RequestContext,
        instance_uuids: list[str],
        admin_password: str | None = None,
        *,
        attempt: int = 1,
        alternates: list[dict[str, str]] | None = None,
        failed_hosts: list[str] | None = None,
        last_failure: dict[str, Any] | None = None,
    ) -> None:
        """Schedule and build (cast). A compute host whose spawn failed calls it again with attempt + 1."""
        self.client.cast(
            ctxt, "build_instances", instance_uuids=list(instance_uuids), admin_password=admin_password,
            attempt=attempt, alternates=alternates, failed_hosts=list(failed_hosts or ()),
            last_failure=last_failure,
        )  # fmt: skip
