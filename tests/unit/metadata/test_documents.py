"""Every path of the metadata service's two trees, rendered from an instance's facts."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from overcast.guest.scripts import METADATA_FUNCTIONS
from overcast.metadata.api import FixedIP, InstanceFacts, KeyFacts, PortFacts, SubnetFacts
from overcast.metadata.documents import (
    EC2_VERSIONS,
    OPENSTACK_VERSIONS,
    MetadataNotFound,
    is_password_path,
    render,
)

UUID = "0f5a2c1e-1111-4222-8333-444455556666"
KEY = KeyFacts(name="mine", type="ssh", data="ssh-ed25519 AAAAC3Nz mine@laptop")
STATIC = SubnetFacts(
    id="subnet-static", cidr="10.0.0.0/24", gateway_ip="10.0.0.1", dns_nameservers=("192.0.2.53",),
    host_routes=(("198.51.100.0/24", "10.0.0.254"),), dhcp=False,
)  # fmt: skip
PORT = PortFacts(id="aabbccdd-eeff-4011-8022-334455667788", mac_address="fa:16:3e:01:02:03",
                 network_id="net-1", mtu=1450, fixed_ips=(FixedIP("10.0.0.5", STATIC),))  # fmt: skip
FACTS = InstanceFacts(
    uuid=UUID, name="vm1", hostname="vm1", project_id="project-a", availability_zone="nova",
    launch_index=0, reservation_id="r-abc123", ec2_instance_id="i-0123456789abcdef0",
    image_id="ami-0123456789abcdef0", kernel_id="", ramdisk_id="", flavor_name="m1.tiny", ephemeral_gb=0,
    meta={"role": "web"}, security_groups=("default", "ssh"), user_data=b"#!/bin/sh\necho hi\n", key=KEY,
    ports=(PORT,), floating_ips=("203.0.113.7",),
)  # fmt: skip


def text(facts: InstanceFacts, path: str) -> str:
    return render(facts, path).body.decode()


def as_json(facts: InstanceFacts, path: str) -> Any:
    document = render(facts, path)
    assert document.content_type == "application/json"
    return json.loads(document.body)


def test_openstack_lists_its_versions_and_latest() -> None:
    assert text(FACTS, "openstack").split("\n") == [*OPENSTACK_VERSIONS, "latest"]
    assert text(FACTS, "/openstack/") == text(FACTS, "openstack")
    assert OPENSTACK_VERSIONS[0] == "2012-08-10" and OPENSTACK_VERSIONS[-1] == "2018-08-27"


def test_each_version_lists_the_files_it_introduced() -> None:
    assert text(FACTS, "openstack/2012-08-10").split("\n") == ["meta_data.json", "user_data"]
    assert text(FACTS, "openstack/2013-04-04").split("\n") == ["meta_data.json", "user_data", "password"]
    havana = ["meta_data.json", "user_data", "password", "vendor_data.json"]
    assert text(FACTS, "openstack/2013-10-17").split("\n") == havana
    assert text(FACTS, "openstack/latest").split("\n") == [
        "meta_data.json", "user_data", "password", "vendor_data.json", "network_data.json",
        "vendor_data2.json",
    ]  # fmt: skip
    assert "user_data" not in text(replace(FACTS, user_data=None), "openstack/latest").split("\n")


def test_meta_data_json_latest() -> None:
    seed = bytes(range(256)) * 2
    data = json.loads(render(FACTS, "openstack/latest/meta_data.json", lambda size: seed[:size]).body)
    assert data == {
        "uuid": UUID, "meta": {"role": "web"}, "public_keys": {"mine": KEY.data},
        "keys": [{"name": "mine", "type": "ssh", "data": KEY.data}], "hostname": "vm1", "name": "vm1",
        "launch_index": 0, "availability_zone": "nova", "random_seed": base64.b64encode(seed).decode(),
        "project_id": "project-a", "devices": [],
    }  # fmt: skip


def test_meta_data_json_grows_by_version_and_drops_what_is_absent() -> None:
    folsom = as_json(replace(FACTS, key=None, meta={}), "openstack/2012-08-10/meta_data.json")
    assert set(folsom) == {"uuid", "hostname", "name", "launch_index", "availability_zone"}
    assert "random_seed" in as_json(FACTS, "openstack/2013-04-04/meta_data.json")
    liberty = as_json(FACTS, "openstack/2015-10-15/meta_data.json")
    assert liberty["project_id"] == "project-a" and "devices" not in liberty
    assert as_json(FACTS, "openstack/2016-06-30/meta_data.json")["devices"] == []
    # A fresh random seed every time, as Nova gives.
    assert as_json(FACTS, "openstack/latest/meta_data.json")["random_seed"] != as_json(
        FACTS, "openstack/latest/meta_data.json")["random_seed"]  # fmt: skip


def test_user_data_verbatim_or_404() -> None:
    assert render(FACTS, "openstack/latest/user_data").body == b"#!/bin/sh\necho hi\n"
    with pytest.raises(MetadataNotFound):
        render(replace(FACTS, user_data=None), "openstack/latest/user_data")


def test_password_is_what_the_guest_posted_or_empty() -> None:
    assert render(FACTS, "openstack/latest/password").body == b""
    assert (
        render(replace(FACTS, password="ZW5jcnlwdGVk"), "openstack/2013-04-04/password").body
        == b"ZW5jcnlwdGVk"
    )
    with pytest.raises(MetadataNotFound):
        render(FACTS, "openstack/2012-08-10/password")


@pytest.mark.parametrize(
    ("path", "postable"),
    [("openstack/latest/password", True), ("/openstack/2013-04-04/password/", True),
     ("openstack/2012-08-10/password", False), ("openstack/latest/meta_data.json", False),
     ("openstack/1999-01-01/password", False), ("latest/password", False), ("openstack/password", False)],
)  # fmt: skip
def test_only_a_versions_password_takes_a_post(path: str, postable: bool) -> None:
    assert is_password_path(path) is postable


def test_vendor_data_documents_are_empty_objects() -> None:
    assert as_json(FACTS, "openstack/latest/vendor_data.json") == {}
    assert as_json(FACTS, "openstack/latest/vendor_data2.json") == {}


@pytest.mark.parametrize(
    "path",
    ["openstack/2011-01-01/meta_data.json", "openstack/latest/nothing",
     "openstack/2012-08-10/network_data.json", "openstack/2015-10-15/vendor_data2.json",
     "openstack/latest/meta_data.json/x", "2010-01-01/meta-data",
     "latest/meta-data/nothing", "latest/meta-data/instance-id/x", "latest/meta-data/public-keys/1"],
)  # fmt: skip
def test_unknown_paths_are_not_found(path: str) -> None:
    with pytest.raises(MetadataNotFound):
        render(FACTS, path)


def test_network_data_static_subnet() -> None:
    assert as_json(FACTS, "openstack/latest/network_data.json") == {
        "links": [{"id": "ovt-aabbccddeef", "vif_id": PORT.id, "type": "bridge", "mtu": 1450,
                   "ethernet_mac_address": "fa:16:3e:01:02:03"}],
        "networks": [{
            "id": "network0", "type": "ipv4", "link": "ovt-aabbccddeef", "ip_address": "10.0.0.5",
            "netmask": "255.255.255.0", "network_id": "net-1",
            "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"},
                       {"network": "198.51.100.0", "netmask": "255.255.255.0", "gateway": "10.0.0.254"}],
            "services": [{"type": "dns", "address": "192.0.2.53"}],
        }],
        "services": [{"type": "dns", "address": "192.0.2.53"}],
    }  # fmt: skip


def test_network_data_ipv6_static_subnet() -> None:
    v6 = SubnetFacts(id="subnet-v6", cidr="2001:db8::/64", gateway_ip="2001:db8::1", dns_nameservers=(),
                     host_routes=(), dhcp=False)  # fmt: skip
    port = replace(PORT, fixed_ips=(FixedIP("2001:db8::10", v6),))
    (network,) = as_json(replace(FACTS, ports=(port,)), "openstack/latest/network_data.json")["networks"]
    expected = ("ipv6", "2001:db8::10", "ffff:ffff:ffff:ffff::")
    assert (network["type"], network["ip_address"], network["netmask"]) == expected
    assert network["routes"] == [{"network": "::", "netmask": "::", "gateway": "2001:db8::1"}]


def test_network_data_dhcp_subnet_and_no_ports() -> None:
    dhcp_port = replace(PORT, fixed_ips=(FixedIP("10.0.0.5", replace(STATIC, dhcp=True)),))
    data = as_json(replace(FACTS, ports=(dhcp_port,)), "openstack/latest/network_data.json")
    assert data["networks"] == [{"id": "network0", "type": "ipv4_dhcp", "link": "ovt-aabbccddeef",
                                 "network_id": "net-1"}]  # fmt: skip
    assert data["services"] == []
    empty: dict[str, list[Any]] = {"links": [], "networks": [], "services": []}
    assert as_json(replace(FACTS, ports=()), "openstack/latest/network_data.json") == empty


def test_ec2_root_lists_versions_and_a_version_its_two_entries() -> None:
    assert text(FACTS, "").split("\n") == [*EC2_VERSIONS, "latest"]
    assert text(FACTS, "/latest").split("\n") == ["meta-data/", "user-data"]
    assert text(replace(FACTS, user_data=None), "latest/").split("\n") == ["meta-data/"]
    assert render(FACTS, "latest/user-data").body == b"#!/bin/sh\necho hi\n"


def test_ec2_meta_data_listing() -> None:
    assert text(FACTS, "latest/meta-data/").split("\n") == [
        "ami-id", "ami-launch-index", "ami-manifest-path", "block-device-mapping/", "hostname",
        "instance-action", "instance-id", "instance-type", "local-hostname", "local-ipv4", "placement/",
        "public-hostname", "public-ipv4", "public-keys/", "reservation-id", "security-groups",
    ]  # fmt: skip
    assert "public-keys/" not in text(replace(FACTS, key=None), "latest/meta-data").split("\n")


@pytest.mark.parametrize(
    ("path", "expected"),
    [("instance-id", "i-0123456789abcdef0"), ("ami-id", "ami-0123456789abcdef0"), ("local-ipv4", "10.0.0.5"),
     ("public-ipv4", "203.0.113.7"), ("hostname", "vm1"), ("local-hostname", "vm1"),
     ("placement/availability-zone", "nova"), ("placement", "availability-zone"),
     ("instance-type", "m1.tiny"),
     ("reservation-id", "r-abc123"), ("security-groups", "default\nssh"), ("public-keys", "0=mine"),
     ("public-keys/0", "openssh-key"), ("public-keys/0/openssh-key", KEY.data),
     ("block-device-mapping", "ami\nroot"), ("block-device-mapping/root", "/dev/vda"),
     ("ami-launch-index", "0")],
)  # fmt: skip
def test_ec2_meta_data_items(path: str, expected: str) -> None:
    assert text(FACTS, f"latest/meta-data/{path}") == expected


def test_ec2_items_by_version_and_without_addresses() -> None:
    assert "public-ipv4" not in text(FACTS, "1.0/meta-data").split("\n")
    assert "placement/" not in text(FACTS, "2007-12-15/meta-data").split("\n")
    bare = replace(FACTS, ports=(), floating_ips=(), user_mode_ip=None)
    assert text(bare, "latest/meta-data/local-ipv4") == ""
    assert text(bare, "latest/meta-data/public-ipv4") == ""
    # QEMU user-mode networking: the address the guest has there.
    assert text(replace(bare, user_mode_ip="10.0.2.15"), "latest/meta-data/local-ipv4") == "10.0.2.15"
    with_disk = replace(FACTS, ephemeral_gb=1, kernel_id="aki-00000000000000001")
    assert text(with_disk, "latest/meta-data/block-device-mapping/ephemeral0") == "/dev/vdb"
    assert text(with_disk, "latest/meta-data/kernel-id") == "aki-00000000000000001"


def test_the_tiny_guest_reads_hostname_uuid_and_keys_from_the_service(tmp_path: Path) -> None:
    """The guest's shell parsing (guest/scripts.py), which falls back to this service without a config
    drive, over the compact JSON the service sends (the drive's is indented), key newline included."""
    meta = tmp_path / "meta_data.json"
    facts = replace(FACTS, key=replace(KEY, data=KEY.data + "\n"), meta={"name": "decoy, {tricky}"})
    meta.write_bytes(render(facts, "openstack/latest/meta_data.json").body)
    script = f'{METADATA_FUNCTIONS}\njson_string "$1" hostname; json_string "$1" uuid; public_keys "$1"\n'
    shell = shutil.which("busybox")
    command = [shell, "sh"] if shell else ["sh"]
    out = subprocess.run(
        [*command, "-c", script, "sh", str(meta)], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["vm1", UUID, KEY.data]
