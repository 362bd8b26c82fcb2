"""Typed RPC client of the conductor service: the only code that sends it messages."""

from __future__ import annotations

from typing import Any, ClassVar

from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "conductor"
BINARY = "overcast-conductor"


class ConductorAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: build_instances; 1.2: migrate_server, unshelve_instance
    VERSION: ClassVar[str] = "1.2"

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

    def migrate_server(self, ctxt: RequestContext, instance_uuid: str, flavor: dict[str, Any]) -> None:
        """Cold resize to `flavor` (cast): reserve a destination, then the source host moves the VM."""
        self.client.cast(ctxt, "migrate_server", instance_uuid=instance_uuid, flavor=dict(flavor))

    def unshelve_instance(self, ctxt: RequestContext, instance_uuid: str) -> None:
        """Power a shelved instance on, or schedule and spawn an offloaded one (cast)."""
        self.client.cast(ctxt, "unshelve_instance", instance_uuid=instance_uuid)
