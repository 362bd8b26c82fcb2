"""Typed RPC client of the scheduler service: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI
from overcast.scheduler.manager import TOPIC


class SchedulerAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: select_destinations; 1.2: schedule_and_claim
    VERSION: ClassVar[str] = "1.2"

    def select_destinations(
        self,
        ctxt: RequestContext,
        request_spec: dict[str, Any],
        excluded_hosts: list[str] | None = None,
        num_alternates: int = 0,
    ) -> list[dict[str, str]]:
        result: list[dict[str, str]] = self.client.call(
            ctxt, "select_destinations", request_spec=request_spec,
            excluded_hosts=list(excluded_hosts or ()), num_alternates=num_alternates,
        )  # fmt: skip
        return result

    def schedule_and_claim(
        self,
        ctxt: RequestContext,
        instance_uuids: list[str],
        excluded_hosts: list[str] | None = None,
        num_alternates: int = 0,
    ) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self.client.call(
            ctxt, "schedule_and_claim", instance_uuids=list(instance_uuids),
            excluded_hosts=list(excluded_hosts or ()), num_alternates=num_alternates,
        )  # fmt: skip
        return result
