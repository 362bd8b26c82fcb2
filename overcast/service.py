"""The service runner: binds a manager to a topic and host, runs its periodic tasks and heartbeat."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from overcast.bus import RPCServer, Target
from overcast.cloud import Cloud
from overcast.db.engine import retry_on_deadlock
from overcast.db.models.service import ServiceRecord
from overcast.manager import Manager, RPCEndpoint

LOG = logging.getLogger(__name__)

# Bumped when a service's RPC API or behaviour changes in a way peers must know about.
SERVICE_VERSION = 1


class PeriodicRunner:
    """Runs (name, spacing, run_immediately, fn) tasks on one thread until stopped.

    A task that raises is logged and scheduled again: one failing periodic job never stops the others.
    """

    def __init__(
        self, tasks: list[tuple[str, float, bool, Callable[[], Any]]], monotonic: Callable[[], float]
    ) -> None:
        self._tasks = tasks
        self._monotonic = monotonic
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, thread_name: str) -> None:
        if not self._tasks:
            return
        self._thread = threading.Thread(target=self._run, name=thread_name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        now = self._monotonic()
        due = {name: (now if run_now else now + spacing) for name, spacing, run_now, _ in self._tasks}
        while not self._stopped.is_set():
            now = self._monotonic()
            for name, spacing, _, fn in self._tasks:
                if due[name] <= now:
                    try:
                        fn()
                    except Exception:
                        LOG.exception("periodic task %s failed", name)
                    due[name] = self._monotonic() + spacing
            self._stopped.wait(max(0.0, min(due.values()) - self._monotonic()))

    def stop(self, timeout: float | None = None) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout)


def _rpc_method_names(endpoint: object) -> set[str]:
    return {name for name in dir(endpoint) if getattr(getattr(endpoint, name, None), "_rpc_exposed", False)}


def _refuse_shared_rpc_methods(endpoints: tuple[object, ...]) -> None:
    """Each RPC method lives in one endpoint: the dispatcher would otherwise pick one silently."""
    seen: dict[str, str] = {}
    for endpoint in endpoints:
        owner = type(endpoint).__name__
        for name in _rpc_method_names(endpoint):
            if name in seen:
                raise ValueError(f"RPC method {name} is served by both {seen[name]} and {owner}")
            seen[name] = owner


class Service:
    """One manager (and its additional endpoints) serving its topic on one host."""

    def __init__(self, cloud: Cloud, manager: Manager, *, report_interval: float | None = None) -> None:
        if not manager.topic or not manager.binary:
            raise ValueError(f"{type(manager).__name__} must set topic and binary")
        self.cloud = cloud
        self.manager = manager
        self.host = manager.host
        self.topic = manager.topic
        self.binary = manager.binary
        interval = cloud.settings.report_interval if report_interval is None else report_interval
        tasks = [*manager.periodic_tasks(), ("report_state", interval, True, self.report_state)]
        self._periodic = PeriodicRunner(tasks, cloud.monotonic)
        served = (manager, *manager.additional_endpoints)
        _refuse_shared_rpc_methods(served)
        endpoints = [RPCEndpoint(one) for one in served]
        self._rpc_server = RPCServer(cloud.transport, Target(topic=self.topic, host=self.host), endpoints)
        self.started = False

    def start(self) -> None:
        self.report_state()
        self.manager.init_host()
        self._rpc_server.start()
        self._periodic.start(f"{self.binary}-periodic")
        self.started = True
        LOG.info("service %s started on host %s (topic %s)", self.binary, self.host, self.topic)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop consuming, let in-flight messages finish, then stop periodic tasks."""
        if not self.started:
            return
        self._rpc_server.stop()
        self._rpc_server.wait(timeout)
        self._periodic.stop(timeout)
        self.manager.cleanup_host()
        self.started = False
        LOG.info("service %s on host %s stopped", self.binary, self.host)

    @retry_on_deadlock
    def report_state(self) -> None:
        """Heartbeat: the services table's last_seen_up is what `os-services` and /metrics read."""
        now = self.cloud.clock()
        with self.cloud.db.writer() as session:
            record = session.execute(
                select(ServiceRecord).where(
                    ServiceRecord.host == self.host, ServiceRecord.binary == self.binary
                )
            ).scalar_one_or_none()
            if record is None:
                record = ServiceRecord(
                    uuid=str(uuid.uuid4()),
                    host=self.host,
                    binary=self.binary,
                    topic=self.topic,
                    report_count=0,
                    disabled=False,
                    forced_down=False,
                    version=SERVICE_VERSION,
                )
                session.add(record)
            record.report_count = (record.report_count or 0) + 1
            record.last_seen_up = now
            record.version = SERVICE_VERSION
