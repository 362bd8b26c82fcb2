"""The `openstack` CLI's network commands against the in-process cloud, as an OpenStack user types them."""

from __future__ import annotations

from tests.support.cloud import InProcessCloud


def test_network_subnet_and_port_with_the_cli(cloud: InProcessCloud) -> None:
    network = cloud.openstack("network", "create", "cli-net", "-f", "json")
    assert network["name"] == "cli-net" and network["status"] == "ACTIVE" and network["mtu"] == 1450
    subnet = cloud.openstack(
        "subnet",
        "create",
        "--network",
        "cli-net",
        "--subnet-range",
        "192.168.50.0/24",
        "--allocation-pool",
        "start=192.168.50.100,end=192.168.50.199",
        "--dns-nameserver",
        "192.168.50.53",
        "--host-route",
        "destination=10.99.0.0/16,gateway=192.168.50.254",
        "cli-subnet",
        "-f",
        "json",
    )
    assert subnet["cidr"] == "192.168.50.0/24" and subnet["gateway_ip"] == "192.168.50.1"
    assert subnet["allocation_pools"] == [{"start": "192.168.50.100", "end": "192.168.50.199"}]
    port = cloud.openstack(
        "port",
        "create",
        "--network",
        "cli-net",
        "--fixed-ip",
        "subnet=cli-subnet,ip-address=192.168.50.150",
        "cli-port",
        "-f",
        "json",
    )
    assert port["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "192.168.50.150"}]
    assert port["status"] == "DOWN"
    auto = cloud.openstack("port", "create", "--network", "cli-net", "auto-port", "-f", "json")
    # .100 went to the DHCP port.
    assert auto["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "192.168.50.101"}]
    listed = cloud.openstack("port", "list", "--network", "cli-net", "-f", "json")
    assert {entry["Name"] for entry in listed} == {"cli-port", "auto-port", ""}
    assert cloud.openstack("network", "show", "cli-net", "-f", "json")["subnets"] == [subnet["id"]]

    taken = cloud.openstack(
        "port",
        "create",
        "--network",
        "cli-net",
        "--fixed-ip",
        "ip-address=192.168.50.150",
        "twin",
        check=False,
    )
    assert taken.returncode != 0 and "already allocated" in taken.stderr
    overlap = cloud.openstack(
        "subnet",
        "create",
        "--network",
        "cli-net",
        "--subnet-range",
        "192.168.50.128/25",
        "overlap",
        check=False,
    )
    assert overlap.returncode != 0 and "overlaps with another subnet" in overlap.stderr
    in_use = cloud.openstack("network", "delete", "cli-net", check=False)
    assert in_use.returncode != 0

    cloud.openstack("port", "delete", "cli-port", "auto-port")
    cloud.openstack("network", "delete", "cli-net")
    assert cloud.openstack("network", "list", "-f", "json") == []


def test_admin_creates_a_shared_external_flat_network(cloud: InProcessCloud) -> None:
    public = cloud.openstack(
        "network",
        "create",
        "--external",
        "--share",
        "--provider-network-type",
        "flat",
        "--provider-physical-network",
        "public",
        "public",
        "-f",
        "json",
        user="overcast-admin",
    )
    assert public["router:external"] and public["shared"] and public["provider:network_type"] == "flat"
    seen = cloud.openstack("network", "list", "--external", "-f", "json")
    assert [entry["Name"] for entry in seen] == ["public"]
    refused = cloud.openstack("network", "create", "--provider-network-type", "vxlan", "mine", check=False)
    assert refused.returncode != 0
    cloud.openstack("network", "delete", "public", user="overcast-admin")


def test_security_group_rules_with_the_cli(cloud: InProcessCloud) -> None:
    groups = cloud.openstack("security", "group", "list", "-f", "json")
    assert [group["Name"] for group in groups] == ["default"]
    ssh = cloud.openstack(
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "22",
        "--remote-ip",
        "0.0.0.0/0",
        "default",
        "-f",
        "json",
    )
    assert (ssh["port_range_min"], ssh["port_range_max"], ssh["protocol"]) == (22, 22, "tcp")
    icmp = cloud.openstack(
        "security", "group", "rule", "create", "--protocol", "icmp", "default", "-f", "json"
    )
    assert icmp["protocol"] == "icmp" and icmp["direction"] == "ingress"
    rules = cloud.openstack("security", "group", "rule", "list", "default", "-f", "json")
    assert len(rules) == 6
    bad = cloud.openstack(
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "tcp",
        "--dst-port",
        "70000",
        "default",
        check=False,
    )
    assert bad.returncode != 0
    web = cloud.openstack("security", "group", "create", "web", "-f", "json")
    cloud.openstack("network", "create", "sg-cli-net")
    cloud.openstack(
        "subnet", "create", "--network", "sg-cli-net", "--subnet-range", "10.88.0.0/24", "sg-cli-sub"
    )
    port = cloud.openstack(
        "port", "create", "--network", "sg-cli-net", "--security-group", "web", "sg-port", "-f", "json"
    )
    assert port["security_group_ids"] == [web["id"]]
    cloud.openstack("port", "delete", "sg-port")
    cloud.openstack("security", "group", "rule", "delete", ssh["id"])
    cloud.openstack("security", "group", "delete", "web")
    cloud.openstack("network", "delete", "sg-cli-net")


def test_network_quotas_with_the_cli(cloud: InProcessCloud) -> None:
    cloud.openstack("quota", "set", "--networks", "7", "--ports", "30", "demo", user="overcast-admin")
    shown = cloud.openstack("quota", "show", "--network", "demo", "-f", "json", user="overcast-admin")
    limits = {row["Resource"]: row["Limit"] for row in shown}
    assert (limits["networks"], limits["ports"], limits["subnets"]) == (7, 30, 100)
    cloud.openstack("network", "create", "counted")
    usage = cloud.openstack("quota", "show", "--network", "--usage", "-f", "json")
    networks = next(row for row in usage if row["Resource"] == "networks")
    assert (networks["Limit"], networks["In Use"]) == (7, 1)
    listed = cloud.openstack("quota", "list", "--network", "-f", "json", user="overcast-admin")
    assert [row["Networks"] for row in listed] == [7]
    cloud.openstack("network", "delete", "counted")
    cloud.openstack("quota", "delete", "--network", "demo", user="overcast-admin")


def test_router_and_floating_ip_with_the_cli(cloud: InProcessCloud) -> None:
    cloud.openstack(
        "network",
        "create",
        "--external",
        "--provider-network-type",
        "flat",
        "--provider-physical-network",
        "public",
        "public",
        user="overcast-admin",
    )
    cloud.openstack(
        "subnet",
        "create",
        "--network",
        "public",
        "--subnet-range",
        "203.0.113.0/24",
        "--no-dhcp",
        "public-v4",
        user="overcast-admin",
    )
    cloud.openstack("network", "create", "private")
    cloud.openstack("subnet", "create", "--network", "private", "--subnet-range", "10.0.0.0/24", "private-v4")
    cloud.openstack("router", "create", "r1")
    cloud.openstack("router", "set", "--external-gateway", "public", "r1")
    cloud.openstack("router", "add", "subnet", "r1", "private-v4")
    router = cloud.openstack("router", "show", "r1", "-f", "json")
    assert (
        router["external_gateway_info"]["network_id"]
        == cloud.openstack("network", "show", "public", "-f", "json")["id"]
    )
    port = cloud.openstack("port", "create", "--network", "private", "vm-port", "-f", "json")
    fip = cloud.openstack("floating", "ip", "create", "public", "-f", "json")
    assert fip["status"] == "DOWN"
    cloud.openstack("floating", "ip", "set", "--port", "vm-port", fip["floating_ip_address"])
    shown = cloud.openstack("floating", "ip", "show", fip["floating_ip_address"], "-f", "json")
    assert shown["port_id"] == port["id"] and shown["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert shown["router_id"] == router["id"]
    busy = cloud.openstack("router", "remove", "subnet", "r1", "private-v4", check=False)
    assert busy.returncode != 0 and "floating IP" in busy.stderr
    cloud.openstack("floating", "ip", "unset", "--port", fip["floating_ip_address"])
    cloud.openstack("floating", "ip", "delete", fip["floating_ip_address"])
    cloud.openstack("router", "remove", "subnet", "r1", "private-v4")
    cloud.openstack("router", "unset", "--external-gateway", "r1")
    cloud.openstack("router", "delete", "r1")
    cloud.openstack("port", "delete", "vm-port")
    cloud.openstack("network", "delete", "private")
    cloud.openstack("network", "delete", "public", user="overcast-admin")


def test_a_router_gateway_on_an_external_network_without_a_subnet(cloud: InProcessCloud) -> None:
    bare = cloud.openstack("network", "create", "--external", "bare-ext", "-f", "json", user="overcast-admin")
    router = cloud.openstack("router", "create", "--external-gateway", "bare-ext", "edge", "-f", "json")
    gateway = router["external_gateway_info"]
    assert (gateway["network_id"], gateway["external_fixed_ips"]) == (bare["id"], [])
    (port,) = cloud.openstack(
        "port", "list", "--device-owner", "network:router_gateway", "--network", "bare-ext", "-f", "json",
        user="overcast-admin",
    )  # fmt: skip
    assert port["Fixed IP Addresses"] == []
    cloud.openstack("router", "delete", "edge")
    cloud.openstack("network", "delete", "bare-ext", user="overcast-admin")
