"""clouds.yaml as openstacksdk reads it: where floating IPs come from, and the networks NAT joins."""

from __future__ import annotations

from pathlib import Path

import openstack.config
from openstack.config.cloud_region import CloudRegion

from overcast.config import load_settings
from overcast.identity.bootstrap import write_clouds_yaml

NETWORKS = (
    {"name": "public", "routes_externally": True, "nat_source": True},
    {"name": "private", "nat_destination": True},
)


def read_cloud(path: Path, name: str) -> CloudRegion:
    return openstack.config.OpenStackConfig(config_files=[str(path)]).get_one(name)


def test_clouds_yaml_names_the_floating_ip_source_and_only_the_networks_it_is_given(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")
    plain, wired = tmp_path / "plain.yaml", tmp_path / "wired.yaml"
    write_clouds_yaml(plain, settings, "admin-secret", 'demo "secret"')
    write_clouds_yaml(wired, settings, "admin-secret", "demo-secret", NETWORKS)
    demo = read_cloud(plain, "overcast-demo")
    assert demo.config["floating_ip_source"] == "neutron"
    assert (demo.get_nat_source(), demo.get_nat_destination()) == (None, None)
    assert demo.config["auth"]["password"] == 'demo "secret"'
    for name in ("overcast-admin", "overcast-demo"):
        cloud = read_cloud(wired, name)
        # As openstacksdk's cloud layer reads them (the `networks` list; top-level keys would be ignored).
        assert (cloud.get_nat_source(), cloud.get_nat_destination()) == ("public", "private")
        assert cloud.get_external_networks() == ["public"] and cloud.config["interface"] == "public"
