"""Base class of every service's manager: the object an RPCServer dispatches to, plus periodic tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeVar

from overcast.cloud import Cloud
from overcast.context import RequestContext

LOG = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def periodic_task(spacing: float, *, run_immediately: bool = False) -> Callable[[F], F]:
    """Mark a manager method to run every `spacing` seconds in the service's periodic thread."""

    def mark(fn: F) -> F:
        fn._periodic_spacing = spacing  # type: ignore[attr-defined]
        fn._periodic_run_immediately = run_immediately  # type: ignore[attr-defined]
        return fn

    return mark


def rpc_method(fn: F) -> F:
    """Mark a manager method as part of its RPC API; nothing else on a manager is reachable over the bus."""
    fn._rpc_exposed = True  # type: ignore[attr-defined]
    return fn


class Endpoint(Protocol):
    """An object whose @rpc_method methods a service serves: a manager or one of its additional endpoints."""

    @property
    def RPC_API_VERSION(self) -> str: ...


class RPCEndpoint:
    """What the RPCServer dispatches to: an object's @rpc_method methods and its RPC_API_VERSION, only.

    Each endpoint's version is checked on its own, so endpoints of one service may serve different versions.
    """

    def __init__(self, served: Endpoint) -> None:
        self._served = served
        self.RPC_API_VERSION = served.RPC_API_VERSION

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._served, name, None)
        if attr is None or not getattr(attr, "_rpc_exposed", False):
            raise AttributeError(name)
        return attr


class Manager:
    """A service's worker. Its @rpc_method methods, and those of its additional endpoints, are its RPC API.

    An additional endpoint is an object the manager composes (Nova's additional_endpoints): its own
    @rpc_method methods and RPC_API_VERSION, served on the manager's topic, so each RPC method lives in
    one class. Periodic tasks and the lifecycle hooks stay on the manager.
    """

    RPC_API_VERSION: ClassVar[str] = "1.0"
    topic: ClassVar[str] = ""
    binary: ClassVar[str] = ""

    def __init__(self, cloud: Cloud, host: str) -> None:
        self.cloud = cloud
        self.host = host
        self.additional_endpoints: list[Endpoint] = []

    @rpc_method
    def ping(self, ctxt: RequestContext, payload: Any = None) -> dict[str, Any]:
        """Liveness probe over the bus: echoes the payload with the answering host."""
        return {"host": self.host, "topic": self.topic, "version": self.RPC_API_VERSION, "payload": payload}

    def init_host(self) -> None:
        """Runs once before the service starts consuming messages (e.g. reconcile state)."""

    def cleanup_host(self) -> None:
        """Runs once after the service stopped consuming messages."""

    def periodic_tasks(self) -> list[tuple[str, float, bool, Callable[[], Any]]]:
        """(name, spacing, run_immediately, bound method) for every @periodic_task method."""
        found = []
        for name in dir(type(self)):
            attr = getattr(type(self), name, None)
            spacing = getattr(attr, "_periodic_spacing", None)
            if spacing is not None:
                run_now = bool(getattr(attr, "_periodic_run_immediately", False))
                found.append((name, float(spacing), run_now, getattr(self, name)))
        return found
