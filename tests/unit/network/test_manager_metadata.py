"""The agent's metadata proxies follow the DHCP servers it serves: started, restarted when dead,
stopped when the server goes; none on a driver without namespaces."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from overcast.cloud import Cloud
from overcast.db import Database
from overcast.network.metadata_proxies import MetadataProxies
from tests.unit.network.agent_setup import agent_cloud


class FakeProxy:
    """Records what the agent asks; ``fail`` makes its start raise as a bind in a missing namespace does."""

    def __init__(self, network_ids: Collection[str], namespace: str, fail: bool) -> None:
        self.network_ids = tuple(network_ids)
        self.namespace = namespace
        self.fail = fail
        self.running = False
        self.stopped = False

    def start(self, timeout: float = 10.0) -> None:
        if self.fail:
            raise OSError(2, f"no namespace {self.namespace}")
        self.running = True

    def stop(self, timeout: float = 10.0) -> None:
        self.running = False
        self.stopped = True


class ProxyMaker:
    def __init__(self) -> None:
        self.made: list[FakeProxy] = []
        self.failing: set[str] = set()

    def __call__(self, cloud: Cloud, network_ids: Collection[str], namespace: str) -> FakeProxy:
        proxy = FakeProxy(network_ids, namespace, fail=namespace in self.failing)
        self.made.append(proxy)
        return proxy


def namespace_of(network_id: str) -> str:
    return f"dhcp-{network_id}"


def test_proxies_follow_the_dhcp_servers(db: Database, tmp_path: Path) -> None:
    maker = ProxyMaker()
    proxies = MetadataProxies(agent_cloud(db, tmp_path), namespace_of, maker)

    proxies.converge(["net-1", "net-2"], only=True)
    assert [(proxy.network_ids, proxy.namespace, proxy.running) for proxy in maker.made] == [
        (("net-1",), "dhcp-net-1", True),
        (("net-2",), "dhcp-net-2", True),
    ]
    proxies.converge(["net-1"], only=False)  # a wire: nothing new, nothing stopped
    assert len(maker.made) == 2 and all(proxy.running for proxy in maker.made)

    maker.made[0].running = False  # its thread died
    proxies.converge(["net-2"], only=True)
    assert maker.made[0].stopped and not maker.made[1].stopped
    assert set(proxies.proxies) == {"net-2"}
    proxies.converge(["net-1", "net-2"], only=True)
    assert maker.made[-1].network_ids == ("net-1",) and maker.made[-1].running

    proxies.stop_all()
    assert proxies.proxies == {} and not any(proxy.running for proxy in maker.made)


def test_a_proxy_that_cannot_start_is_tried_again_later(db: Database, tmp_path: Path) -> None:
    maker = ProxyMaker()
    maker.failing.add("dhcp-net-1")
    proxies = MetadataProxies(agent_cloud(db, tmp_path), namespace_of, maker)

    proxies.converge(["net-1"], only=True)
    assert proxies.proxies == {}
    maker.failing.clear()
    proxies.converge(["net-1"], only=True)
    assert proxies.proxies["net-1"].running


def test_a_driver_without_namespaces_runs_no_proxy(db: Database, tmp_path: Path) -> None:
    maker = ProxyMaker()
    MetadataProxies(agent_cloud(db, tmp_path), None, maker).converge(["net-1"], only=True)
    assert maker.made == []
