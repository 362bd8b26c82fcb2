"""Serial consoles: a single-use token per console request, redeemed by the websocket proxy.

The compute host tells where the VM's serial port listens (the QEMU driver: a TCP port on the compute
host from [serial_console] port_range, reached at its proxyclient_address; or a unix socket in the
instance's folder, reachable only from the same host); the API process hands out a token bound to that
place and the proxy connects there when the token comes back on the websocket. Tokens live in this API
process's memory (like Nova's console_token_ttl, they expire after ten minutes) and are good for one
connection.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from overcast import errors
from overcast.cloud import Cloud
from overcast.compute import states
from overcast.compute.actions import visible_instance
from overcast.context import RequestContext

if TYPE_CHECKING:
    from overcast.compute.rpcapi import ComputeAPI

TOKEN_TTL = timedelta(minutes=10)
SERIAL_PATH = "/serial"
# Nova lets a console be opened while the guest runs (rescued included).
_CONSOLE_VM_STATES = (states.ACTIVE, states.RESCUED)


@dataclass(frozen=True)
class ConsoleTarget:
    instance_uuid: str
    # What the compute driver returned: {"kind": "tcp", "host", "port"} or {"kind": "unix", "path"}
    connect: dict[str, Any]
    expires_at: datetime


class ConsoleTokens:
    """Issued tokens until they are redeemed once or expire."""

    def __init__(self, clock: Callable[[], datetime], ttl: timedelta = TOKEN_TTL) -> None:
        self.clock = clock
        self.ttl = ttl
        self._targets: dict[str, ConsoleTarget] = {}
        self._lock = threading.Lock()

    def issue(self, instance_uuid: str, connect: dict[str, Any]) -> str:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with self._lock:
            self._targets = {key: target for key, target in self._targets.items() if target.expires_at > now}
            self._targets[token] = ConsoleTarget(instance_uuid, dict(connect), now + self.ttl)
        return token

    def redeem(self, token: str) -> ConsoleTarget | None:
        """The target of a valid token, which is spent by this call; None for unknown or expired ones."""
        with self._lock:
            target = self._targets.pop(token, None)
        if target is None or target.expires_at <= self.clock():
            return None
        return target


_tokens: dict[int, tuple[weakref.ref[Cloud], ConsoleTokens]] = {}
_tokens_lock = threading.Lock()


def tokens_for(cloud: Cloud) -> ConsoleTokens:
    """The console tokens of `cloud` in this process: issued by one request, redeemed by another."""
    with _tokens_lock:
        entry = _tokens.get(id(cloud))
        if entry is None or entry[0]() is not cloud:
            for key in [key for key, (ref, _) in _tokens.items() if ref() is None]:
                del _tokens[key]
            entry = _tokens[id(cloud)] = (weakref.ref(cloud), ConsoleTokens(cloud.clock))
        return entry[1]


class SerialConsoles:
    def __init__(self, cloud: Cloud, compute_rpc: ComputeAPI, tokens: ConsoleTokens | None = None) -> None:
        self.cloud = cloud
        self.compute_rpc = compute_rpc
        self.tokens = tokens or tokens_for(cloud)

    def url(self, ctxt: RequestContext, instance_uuid: str) -> str:
        """The websocket URL of a new serial console of the instance (NotFound, Conflict, 501)."""
        with self.cloud.db.reader() as session:
            instance = visible_instance(session, ctxt, instance_uuid)
        if instance.host is None or instance.vm_state not in _CONSOLE_VM_STATES:
            raise errors.Conflict(
                f"Instance {instance_uuid} is not ready (vm_state {instance.vm_state}): no serial console."
            )
        connect = self.compute_rpc.get_serial_console(ctxt, instance.host, instance_uuid)
        token = self.tokens.issue(instance_uuid, connect)
        base = self.cloud.settings.base_url
        scheme, _, rest = base.partition("://")
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}{SERIAL_PATH}?token={token}"
