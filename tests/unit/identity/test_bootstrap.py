"""clouds.yaml as openstacksdk reads it: where floating IPs come from, and the networks NAT joins."""

from __future__ import annotations

from pathlib import Path

import openstack.config

from overcast.config import load_settings
from overcast.identity.bootstrap import write_clouds_yaml


def read_cloud(path: Path, name: str) -> dict[str, object]:
    config = openstack.config.OpenStackConfig(config_files=[str(path)])
    return dict(config.get_one(name).config)


def test_clouds_yaml_names_the_floating_ip_source_and_only_the_networks_it_is_given(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")
    plain, wired = tmp_path / "plain.yaml", tmp_path / "wired.yaml"
    write_clouds_yaml(plain, settings, "admin-secret", 'demo "secret"')
    write_clouds_yaml(
        wired, settings, "admin-secret", "demo-secret",
        network_options={"nat_source": "public", "nat_destination": "private"},
    )  # fmt: skip
    demo = read_cloud(plain, "overcast-demo")
    assert demo["floating_ip_source"] == "neutron"
    assert "nat_destination" not in demo and "nat_source" not in demo
    assert demo["auth"]["password"] == 'demo "secret"'  # type: ignore[index]
    for name in ("overcast-admin", "overcast-demo"):
        cloud = read_cloud(wired, name)
        assert (cloud["nat_source"], cloud["nat_destination"], cloud["interface"]) == (
            "public",
            "private",
            "public",
        )
