"""The message bus: RPC (call, cast, fanout) and notifications over inproc:// or rabbit://."""

from overcast.bus.dispatcher import NoSuchMethod, version_is_compatible
from overcast.bus.notify import NotificationListener, Notifier
from overcast.bus.rpc import RPCClient, RPCServer
from overcast.bus.target import Target
from overcast.bus.transport import Listener, Reply, Transport
from overcast.bus.transports import get_transport

__all__ = [
    "Listener",
    "NoSuchMethod",
    "NotificationListener",
    "Notifier",
    "RPCClient",
    "RPCServer",
    "Reply",
    "Target",
    "Transport",
    "get_transport",
    "version_is_compatible",
]
