"""Transports: inproc (threads in one process) and amqp (RabbitMQ through kombu), and the factory that
hands out one per URL."""

from __future__ import annotations

import threading

from overcast.bus.transport import Transport

_registry: dict[str, Transport] = {}
_registry_lock = threading.Lock()


def get_transport(url: str = "inproc://") -> Transport:
    """The process-wide transport for ``url`` (created on first use).

    ``inproc://`` (or ``inproc://name`` for a separate bus) keeps every service in this process;
    ``rabbit://user:pass@host:port/vhost`` or ``amqp://...`` uses a RabbitMQ broker.
    """
    with _registry_lock:
        transport = _registry.get(url)
        if transport is None:
            transport = _create(url)
            transport.when_closed = _forget
            _registry[url] = transport
        return transport


def _create(url: str) -> Transport:
    # Imported on use: a process on the in-process bus never loads kombu.
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "inproc":
        from overcast.bus.transports.inproc import InprocTransport

        return InprocTransport(url)
    if scheme in ("rabbit", "amqp", "pyamqp"):
        from overcast.bus.transports.amqp import AmqpTransport

        return AmqpTransport(url)
    raise ValueError(f"unsupported message bus URL {url!r}: use inproc://, rabbit:// or amqp://")


def _forget(transport: Transport) -> None:
    with _registry_lock:
        if _registry.get(transport.url) is transport:
            del _registry[transport.url]
