"""Typed RPC client of the compute service: the only code that sends it messages."""

from __future__ import annotations

from typing import ClassVar

from overcast.compute.manager import TOPIC
from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI


class ComputeAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: build_and_run_instance, terminate_instance
    VERSION: ClassVar[str] = "1.1"

    def build_and_run_instance(
        self,
        ctxt: RequestContext,
        host: str,
        instance_uuid: str,
        admin_password: str | None = None,
        *,
        attempt: int = 1,
        alternates: list[dict[str, str]] | None = None,
        failed_hosts: list[str] | None = None,
    ) -> None:
        self.client.prepare(host=host).cast(
            ctxt, "build_and_run_instance", instance_uuid=instance_uuid, admin_password=admin_password,
            attempt=attempt, alternates=list(alternates or ()), failed_hosts=list(failed_hosts or ()),
        )  # fmt: skip

    def terminate_instance(self, ctxt: RequestContext, host: str, instance_uuid: str) -> None:
        self.client.prepare(host=host).cast(ctxt, "terminate_instance", instance_uuid=instance_uuid)
