"""Names of what the network drivers create: prefixed, and short enough for the kernel (IFNAMSIZ)."""

from __future__ import annotations

import uuid

from overcast.network.drivers import names

NETWORK, PORT = str(uuid.uuid4()), str(uuid.uuid4())


def test_interface_names_fit_in_fifteen_characters_and_carry_their_prefix() -> None:
    made = {
        names.BRIDGE: names.bridge(NETWORK),
        names.VXLAN: names.vxlan(NETWORK),
        names.TAP: names.tap(PORT),
        names.DHCP_HOST_SIDE: names.dhcp_host_side(NETWORK),
        names.DHCP_NAMESPACE_SIDE: names.dhcp_namespace_side(NETWORK),
        names.ROUTER_HOST_SIDE: names.router_host_side(PORT),
        names.ROUTER_NAMESPACE_SIDE: names.router_namespace_side(PORT),
    }
    for prefix, name in made.items():
        assert len(name) == names.IFNAME_MAX
        assert name.startswith(prefix) and name.startswith(names.INTERFACE_PREFIX)
        assert name[len(prefix) :] in PORT.replace("-", "") + NETWORK.replace("-", "")


def test_a_simulated_hosts_namespaces_are_its_own() -> None:
    found = {
        names.dhcp_namespace(NETWORK, None),
        names.dhcp_namespace(NETWORK, "host-1"),
        names.router_namespace(PORT, "host-2"),
        "ovc-dhcp-not-an-id",
    }
    assert names.owned_namespaces("dhcp", found, None) == {NETWORK}
    assert names.owned_namespaces("dhcp", found, "host-1") == {NETWORK}
    assert names.owned_namespaces("dhcp", found, "host-2") == frozenset()
    assert names.owned_namespaces("router", found, "host-2") == {PORT}
