"""The agent's metadata proxies: one in each DHCP namespace of this host, serving its network's guests.

The agent converges them with its data plane: a proxy starts once the network's DHCP server is wired, a
proxy that died is started again, and one whose DHCP server went is stopped. A driver without DHCP
namespaces (noop) runs none. A proxy that fails to start is logged and tried again at the next sync.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from typing import Protocol

from overcast.cloud import Cloud
from overcast.network.metadata import MetadataProxy

LOG = logging.getLogger(__name__)


class Proxy(Protocol):
    @property
    def running(self) -> bool: ...

    def start(self, timeout: float = 10.0) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...


# (cloud, network ids, namespace) -> a proxy not started yet
ProxyFactory = Callable[[Cloud, Collection[str], str], Proxy]


def cloud_proxy(cloud: Cloud, network_ids: Collection[str], namespace: str) -> Proxy:
    return MetadataProxy.for_cloud(cloud, network_ids, namespace)


class MetadataProxies:
    def __init__(
        self,
        cloud: Cloud,
        namespace_of: Callable[[str], str] | None,
        make_proxy: ProxyFactory = cloud_proxy,
    ) -> None:
        self.cloud = cloud
        self.namespace_of = namespace_of
        self.make_proxy = make_proxy
        self.proxies: dict[str, Proxy] = {}
        self._lock = threading.Lock()

    def converge(self, network_ids: Collection[str], *, only: bool) -> None:
        """Run a proxy for each network; with ``only``, stop those of every other network."""
        if self.namespace_of is None:
            return
        with self._lock:
            if only:
                for network_id in set(self.proxies) - set(network_ids):
                    self.proxies.pop(network_id).stop()
            for network_id in network_ids:
                self._ensure(network_id, self.namespace_of(network_id))

    def _ensure(self, network_id: str, namespace: str) -> None:
        proxy = self.proxies.get(network_id)
        if proxy is not None and proxy.running:
            return
        if proxy is not None:
            LOG.warning("the metadata proxy of network %s had stopped; starting it again", network_id)
            proxy.stop()
        proxy = self.make_proxy(self.cloud, (network_id,), namespace)
        try:
            proxy.start()
        except (OSError, RuntimeError):
            LOG.exception("the metadata proxy of network %s did not start in %s", network_id, namespace)
            self.proxies.pop(network_id, None)
            return
        self.proxies[network_id] = proxy

    def stop(self, network_id: str) -> None:
        with self._lock:
            proxy = self.proxies.pop(network_id, None)
        if proxy is not None:
            proxy.stop()

    def stop_all(self) -> None:
        with self._lock:
            for proxy in self.proxies.values():
                proxy.stop()
            self.proxies.clear()
