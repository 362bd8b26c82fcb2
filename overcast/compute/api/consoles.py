"""Serial consoles: a single-use token per console request, redeemed by the websocket proxy.

The compute host tells where the VM's serial port listens (the QEMU driver: a unix socket in the
instance's folder, reachable only from the same host; or, when [serial_console] port_range is set, a TCP
port on the compute host reached at its proxyclient_address). The API hands out a token bound to that
instance, its project, its host and that place (`compute/console_tokens.py`: in the database, so any API
process may redeem it; only its hash stored). When the token comes back on the websocket it is spent,
and the proxy connects only if the instance still exists in that project on that host, may have a
console, and the compute host still names the same place for it: a port or socket that a deleted VM
left behind and another VM took over is never reached with the old VM's token. Tokens expire after
[consoleauth] token_ttl seconds (Nova's default, ten minutes) and go with their instance.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.orm import Session

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import console_tokens, instances, states
from overcast.compute.api.lookup import visible_instance
from overcast.compute.console_tokens import ConsoleGrant
from overcast.compute.rpcapi import ComputeAPI
from overcast.context import RequestContext

LOG = logging.getLogger(__name__)
SERIAL_PATH = "/serial"
# Nova lets a console be opened while the guest runs (rescued included).
_CONSOLE_VM_STATES = (states.ACTIVE, states.RESCUED)


class SerialConsoles:
    def __init__(self, cloud: Cloud, compute_rpc: ComputeAPI | None = None) -> None:
        self.cloud = cloud
        self.compute_rpc = compute_rpc or ComputeAPI(cloud.transport, timeout=cloud.settings.rpc_timeout)

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self.cloud.settings.consoleauth.token_ttl)

    def url(self, ctxt: RequestContext, instance_uuid: str) -> str:
        """The websocket URL of a new serial console of the instance (NotFound, Conflict, 501)."""
        with self.cloud.db.reader() as session:
            instance = visible_instance(session, ctxt, instance_uuid)
        host = instance.host
        if host is None or instance.vm_state not in _CONSOLE_VM_STATES:
            raise errors.Conflict(
                f"Instance {instance_uuid} is not ready (vm_state {instance.vm_state}): no serial console."
            )
        connect = self.compute_rpc.get_serial_console(ctxt, host, instance_uuid)
        grant = ConsoleGrant(
            instance_uuid=instance_uuid, project_id=instance.project_id, user_id=ctxt.user_id, host=host,
            console_type=console_tokens.SERIAL, connect=connect,
        )  # fmt: skip

        def issue(session: Session) -> str:
            # The instance may have been deleted or moved while its host answered.
            current = instances.get_live(session, instance_uuid)
            if current.host != host:
                raise errors.Conflict(f"Instance {instance_uuid} moved while its console was requested.")
            return console_tokens.issue(session, grant, now=self.cloud.clock(), ttl=self.ttl)

        try:
            token = self.cloud.db.write(issue)
        except errors.NotFound:
            raise errors.NotFound(f"Instance {instance_uuid} could not be found.") from None
        base = self.cloud.settings.base_url
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{SERIAL_PATH}?token={token}"

    def redeem(self, token: str) -> ConsoleGrant | None:
        """Spend `token` and say where to connect; None if it is unknown, spent, expired, or its instance
        is gone, in another project or on another host, cannot have a console now, or its compute host
        no longer names the same serial port for it. Blocks on the database and the compute host."""
        if not token:
            return None
        now = self.cloud.clock()
        grant = self.cloud.db.write(lambda session: console_tokens.redeem(session, token, now=now))
        if grant is None:
            return None
        with self.cloud.db.reader() as session:
            try:
                instance = instances.get_live(session, grant.instance_uuid)
            except errors.NotFound:
                return None
            if (instance.project_id, instance.host) != (grant.project_id, grant.host) or (
                instance.vm_state not in _CONSOLE_VM_STATES
            ):
                return None
        # Nova's validate_console_port: the host must still serve this instance's console there.
        ctxt = RequestContext(user_id=grant.user_id, project_id=grant.project_id)
        try:
            current = self.compute_rpc.get_serial_console(ctxt, grant.host, grant.instance_uuid)
        except errors.OvercastError as exc:
            LOG.info("Console token of %s refused: its host says %s", grant.instance_uuid, exc)
            return None
        if current != grant.connect:
            LOG.info("Console token of %s refused: its serial port changed", grant.instance_uuid)
            return None
        return grant
