"""What the network service tells compute about a server's ports, as Neutron's nova notifier does.

A port bound to a server (device owner `compute:*`) deleted through the network API is gone from the
guest's point of view only once compute hears of it: compute's `network-vif-deleted` external event
unplugs the NIC and unwires it on the server's host. Compute is built after this service (it needs it),
so the composition root connects the two once both exist; unconnected (a unit test's NetworkAPI, a tool
reading the database) nothing is told. The event is sent after the delete commits, never if it rolls back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event

from overcast.context import RequestContext
from overcast.db import ambient

LOG = logging.getLogger(__name__)

# (context, server uuid, port id): compute's external events accept it as network-vif-deleted.
PortDeleted = Callable[[RequestContext, str, str], None]


class ComputeNotices:
    def __init__(self) -> None:
        self._port_deleted: PortDeleted | None = None

    def connect(self, port_deleted: PortDeleted) -> None:
        self._port_deleted = port_deleted

    def port_deleted(self, ctxt: RequestContext, server_uuid: str, port_id: str) -> None:
        tell = self._port_deleted
        if tell is None:
            return

        def send(*_: object) -> None:
            # The port is deleted either way; a server left with a dead NIC is the lesser harm.
            try:
                tell(ctxt, server_uuid, port_id)
            except Exception:
                LOG.exception("could not tell compute that port %s of %s was deleted", port_id, server_uuid)

        outer = ambient.active_transaction()
        if outer is None:
            send()
        else:
            event.listen(outer.session, "after_commit", send, once=True)
