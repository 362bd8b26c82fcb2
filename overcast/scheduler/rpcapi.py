"""Typed RPC client of the scheduler service: the only code that sends it messages."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from overcast.bus import Transport
from overcast.context import RequestContext
from overcast.rpcapi import ServiceRPCAPI

LOG = logging.getLogger(__name__)

# The client owns the names its server answers to, so sending a message imports nothing of the server.
TOPIC = "scheduler"
BINARY = "overcast-scheduler"


class SchedulerAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = TOPIC
    # 1.1: select_destinations; 1.2: schedule_and_claim; 1.3: host_states_changed
    VERSION: ClassVar[str] = "1.3"

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

    def host_states_changed(self, ctxt: RequestContext) -> None:
        """Tell every scheduler that services, aggregates or compute nodes changed in the database, so
        each re-reads its host cache before its next decision rather than at its refresh interval."""
        self.client.prepare(fanout=True).cast(ctxt, "host_states_changed")


def notify_host_states_changed(transport: Transport) -> None:
    """Called by whoever committed a change schedulers must see at once (os-services, os-aggregates, a
    compute host starting). The change is already saved, so a notice that cannot be sent is no error:
    the schedulers' periodic refresh still picks the change up."""
    try:
        SchedulerAPI(transport).host_states_changed(RequestContext.admin())
    except Exception:
        LOG.warning("Could not tell the schedulers that host states changed", exc_info=True)
