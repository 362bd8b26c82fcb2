"""The noop network driver passes the driver contract and records what it was asked, in order."""

from __future__ import annotations

import pytest

from overcast.network.drivers.model import HostState
from overcast.network.drivers.noop import NoopDriver
from tests.unit.network.driver_contract import DriverContract, port_on, ssh_group, vxlan_network


@pytest.fixture
def driver() -> NoopDriver:
    return NoopDriver(host_namespace="compute-1")


@pytest.fixture
def vtep_peers() -> tuple[str, str]:
    return ("198.18.0.2", "198.18.0.3")


class TestNoopDriver(DriverContract):
    pass


def test_sync_asks_for_groups_before_the_ports_that_use_them(driver: NoopDriver) -> None:
    network, group = vxlan_network(), ssh_group()
    port = port_on(network, groups=(group.id,))
    driver.sync(HostState(networks=(network,), ports=(port,), security_groups=(group,)))
    assert driver.calls == [
        ("ensure_network", network.id),
        ("ensure_security_group", group.id),
        ("ensure_port", port.id),
    ]


def test_sync_removes_stale_ports_before_wiring_desired_ones(driver: NoopDriver) -> None:
    network = vxlan_network()
    stale, wanted = port_on(network, 10), port_on(network, 11)
    driver.ensure_network(network)
    driver.ensure_port(stale)
    driver.calls.clear()
    driver.sync(HostState(networks=(network,), ports=(wanted,)))
    assert driver.calls.index(("remove_port", stale.id)) < driver.calls.index(("ensure_port", wanted.id))
    assert driver.ports == {wanted.id: wanted}
