"""Runs services in this process until SIGTERM/SIGINT, then stops them gracefully."""

from __future__ import annotations

import gc
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType

import uvicorn

from overcast.api.app import IDLE_CONNECTION_SECONDS
from overcast.api.assembly import build_api
from overcast.cloud import Cloud
from overcast.manager import Manager
from overcast.service import Service

LOG = logging.getLogger(__name__)

ManagerFactory = Callable[[Cloud, str], Manager]


def manager_factories() -> dict[str, ManagerFactory]:
    """The services `overcast service NAME` can run, besides `api`."""
    from overcast.billing.manager import BillingManager
    from overcast.compute.manager import ComputeManager
    from overcast.conductor.manager import ConductorManager
    from overcast.metering.manager import MeteringManager
    from overcast.network.manager import NetworkManager
    from overcast.portal.manager import PortalManager
    from overcast.scheduler.manager import SchedulerManager
    from overcast.volume.manager import VolumeManager

    # The network agent starts before compute, whose start-up may wire the ports of its VMs.
    return {
        "conductor": ConductorManager,
        "scheduler": SchedulerManager,
        "network": NetworkManager,
        "compute": ComputeManager,
        # After compute, as in a cloud whose volume hosts join last: nothing at start waits on volumes.
        "volume": VolumeManager,
        # Last: nothing waits on it; what it misses meanwhile the audit heals.
        "metering": MeteringManager,
        # After metering, whose usage it rates: invoices, budget alerts, credit limits.
        "billing": BillingManager,
        # The portal's outbox retries and sign-up expiry.
        "portal": PortalManager,
    }


def start_services(cloud: Cloud, names: Iterable[str], host: str) -> list[Service]:
    factories = manager_factories()
    services: list[Service] = []
    try:
        for name in names:
            service = Service(cloud, factories[name](cloud, host))
            service.start()
            services.append(service)
    except BaseException:
        stop_services(services)
        raise
    return services


def stop_services(services: list[Service]) -> None:
    for service in reversed(services):
        try:
            service.stop()
        except Exception:
            LOG.exception("stopping %s failed", service.binary)


def run(
    cloud: Cloud, names: list[str], host: str, *, with_api: bool, on_ready: Callable[[], None] | None = None
) -> None:
    """Start the named services (and the API if asked), block until a signal, then stop them all."""
    services = start_services(cloud, names, host)
    try:
        if with_api:
            _serve_api(cloud, on_ready)
        else:
            if on_ready:
                on_ready()
            _wait_for_signal()
    finally:
        stop_services(services)
        cloud.close()


def _serve_api(cloud: Cloud, on_ready: Callable[[], None] | None) -> None:
    settings = cloud.settings
    config = uvicorn.Config(
        build_api(cloud),
        host=settings.listen_host,
        port=settings.listen_port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_keep_alive=IDLE_CONNECTION_SECONDS,
        # The peer is the client: uvicorn would believe X-Forwarded-For from any loopback peer, so a local
        # process could pick the address the per-client limits count. Proxies are trusted by setting only
        # (OVERCAST_PORTAL_TRUSTED_PROXIES), where the portal reads the header itself.
        proxy_headers=False,
    )
    server = uvicorn.Server(config)
    if on_ready:
        watcher = threading.Thread(target=_call_when_started, args=(server, on_ready), daemon=True)
        watcher.start()
    # uvicorn installs its own SIGINT/SIGTERM handlers (stop accepting, finish in-flight requests) and
    # re-raises the signal to the handlers it found once it has shut down. Ours only log it, so the
    # process lives on to stop its services gracefully instead of dying before they finish.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _log_signal)
    settle_heap()
    server.run()


# A page of a thousand servers holds some 30,000 containers at once. At the default first threshold (700)
# the collector runs dozens of times per page and promotes the page to the oldest generation, whose
# collection then walks every object of the process every few requests.
YOUNG_COLLECTION_THRESHOLD = 10_000


def settle_heap() -> None:
    """Tune the cyclic collector for serving: freeze what start-up built (modules, the app, its services),
    and collect the young generation less often.

    Collections were some 40% of GET /servers/detail: start-up objects live as long as the process, yet
    each full collection walked them all again. Call it once everything long-lived exists, before serving.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])


def _call_when_started(server: uvicorn.Server, on_ready: Callable[[], None]) -> None:
    while not server.started and not server.should_exit:
        threading.Event().wait(0.05)
    if server.started:
        on_ready()


def _log_signal(signum: int, frame: FrameType | None) -> None:
    LOG.info("signal %s received, stopping services", signum)


def _wait_for_signal() -> None:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        LOG.info("signal %s received, stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    while not stop.is_set():
        stop.wait(1.0)
