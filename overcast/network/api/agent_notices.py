"""Fanout casts telling the network agents of a change the API has committed.

Without them a host would apply a rule, a port's groups, a subnet's DHCP entries or a floating IP only
at its next periodic sync. A cast is sent after the write's transaction commits, so an agent never reads
the state from before it; a cast that fails is logged and not the user's error, since the periodic sync
converges every host anyway.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable

from sqlalchemy import event

from overcast.context import RequestContext
from overcast.db import ambient
from overcast.network.rpcapi import NetworkAgentAPI

LOG = logging.getLogger(__name__)


class AgentNotices:
    def __init__(self, agents: NetworkAgentAPI | None = None) -> None:
        # No client (a unit test's NetworkAPI, a tool reading the database) means no agent to tell.
        self.agents = agents

    def groups_changed(self, ctxt: RequestContext, group_ids: Iterable[str]) -> None:
        """These groups' rules or members changed: hosts using them re-apply them."""
        wanted = sorted(set(group_ids))
        agents = self.agents
        if agents is None or not wanted:
            return
        _after_commit(lambda: agents.security_groups_changed(ctxt, wanted), f"groups {wanted}")

    def networks_changed(self, ctxt: RequestContext, network_ids: Iterable[str | None]) -> None:
        """These networks' ports, subnets or floating IPs changed: hosts having them re-converge them,
        their ports there (a port's groups) and the routers they serve on them (a floating IP's NAT,
        cast with its fixed port's network), so no per-port or per-router cast is needed."""
        agents = self.agents
        if agents is None:
            return
        for network_id in sorted({one for one in network_ids if one}):
            send = functools.partial(agents.network_changed, ctxt, network_id)
            _after_commit(send, f"network {network_id}")

    def network_deleted(self, ctxt: RequestContext, network_id: str) -> None:
        agents = self.agents
        if agents is not None:
            _after_commit(lambda: agents.network_deleted(ctxt, network_id), f"network {network_id}")

    def router_deleted(self, ctxt: RequestContext, router_id: str) -> None:
        agents = self.agents
        if agents is not None:
            _after_commit(lambda: agents.router_deleted(ctxt, router_id), f"router {router_id}")


def _after_commit(send: Callable[[], None], what: str) -> None:
    """Send now, or when the caller's own outer transaction commits (never if it rolls back)."""

    def guarded(*_: object) -> None:
        try:
            send()
        except Exception:
            LOG.exception("could not tell the network agents that %s changed", what)

    outer = ambient.active_transaction()
    if outer is None:
        guarded()
    else:
        event.listen(outer.session, "after_commit", guarded, once=True)
