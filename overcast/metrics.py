"""Process-wide Prometheus metrics.

Every metric lives in `REGISTRY`, a dedicated registry rather than prometheus_client's global one, so
importing Overcast never collides with other libraries' metrics and each API app can expose the shared
metrics next to its own per-app collectors (see `build_scrape_registry`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from overcast.servicegroup import ServiceLike, service_is_up

REGISTRY = CollectorRegistry(auto_describe=True)

UNMATCHED_ROUTE = "unmatched"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# API calls span from sub-millisecond reads to multi-second synchronous actions.
_HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# An RPC call waits up to rpc_timeout (60 s by default) for a reply.
_RPC_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

HTTP_REQUESTS = Counter(
    "overcast_http_requests",
    "HTTP requests answered by the API, by route template and status.",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_REQUEST_DURATION = Histogram(
    "overcast_http_request_duration_seconds",
    "Time from receiving an HTTP request to sending the last byte of its response.",
    ["method", "route"],
    buckets=_HTTP_BUCKETS,
    registry=REGISTRY,
)
RPC_CALL_DURATION = Histogram(
    "overcast_rpc_call_duration_seconds",
    "Time an RPC call waited for its reply, by target topic and method.",
    ["topic", "method"],
    buckets=_RPC_BUCKETS,
    registry=REGISTRY,
)


def _method_label(method: str) -> str:
    # Clients may send any token as a method; unknown ones share one label to bound cardinality.
    upper = method.upper()
    return upper if upper in _KNOWN_METHODS else "OTHER"


def observe_http_request(method: str, route: str, status: int, seconds: float) -> None:
    method_label = _method_label(method)
    HTTP_REQUESTS.labels(method=method_label, route=route, status=str(status)).inc()
    HTTP_REQUEST_DURATION.labels(method=method_label, route=route).observe(seconds)


def observe_rpc_call(topic: str, method: str, seconds: float) -> None:
    """Record one RPC call's round trip; the bus's RPC client calls this for every `call`."""
    RPC_CALL_DURATION.labels(topic=topic, method=method).observe(seconds)


class ServiceUpCollector:
    """`overcast_service_up{binary,host}`: read from the services table at scrape time, never cached."""

    def __init__(
        self,
        list_services: Callable[[], Iterable[ServiceLike]],
        down_time: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._list_services = list_services
        self._down_time = down_time
        self._clock = clock

    def describe(self) -> Iterable[Metric]:
        # Describing without collecting keeps registration from querying the database.
        return [self._family()]

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        now = self._clock()
        for record in self._list_services():
            up = service_is_up(record, now, self._down_time)
            family.add_metric([record.binary, record.host], 1.0 if up else 0.0)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "overcast_service_up",
            "1 if the service's last heartbeat is within service_down_time and it is not forced down.",
            labels=["binary", "host"],
        )


class _RegistryCollector:
    """Exposes another registry's metrics through a per-app registry."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


def build_scrape_registry(*extra_collectors: Collector) -> CollectorRegistry:
    """A registry for one /metrics endpoint: the process-wide metrics plus that app's own collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_RegistryCollector(REGISTRY))
    for collector in extra_collectors:
        registry.register(collector)
    return registry


def render(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The Prometheus text exposition of `registry` and its content type."""
    return generate_latest(registry), CONTENT_TYPE_LATEST
