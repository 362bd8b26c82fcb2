"""The config drive: OpenStack's layout, written to a real ISO9660 / vfat image and read back."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from overcast.guest.scripts import METADATA_FUNCTIONS
from overcast.virt.driver import ImageRef, InstanceSpec
from overcast.virt.qemu.configdrive import (
    ConfigDrives,
    build_config_drive,
    config_drive_files,
    meta_data,
    network_data,
)

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE0verca5tTestKeyMaterial000000000000000000 me@laptop"


def _spec(**overrides: object) -> InstanceSpec:
    values: dict[str, object] = dict(
        uuid="6a0c0b37-9f5b-4c8e-8d41-0d7f51c2e9a3", name="web 1", hostname="web-1", vcpus=1, memory_mb=256,
        root_gb=1, image=ImageRef(id="guest"), user_data=b"#!/bin/sh\necho hi\n", metadata={"role": "web"},
        key_data=KEY, network_info=[{"id": "port-1", "address": "fa:16:3e:00:00:01", "network_id": "net-1"}],
    )  # fmt: skip
    values.update(overrides)
    return InstanceSpec(**values)  # type: ignore[arg-type]


def test_meta_data_has_the_openstack_fields() -> None:
    data = meta_data(_spec(), availability_zone="zone-a", launch_index=2, admin_password="pw")
    assert data["uuid"] == "6a0c0b37-9f5b-4c8e-8d41-0d7f51c2e9a3"
    assert (data["name"], data["hostname"]) == ("web 1", "web-1")
    assert (data["launch_index"], data["availability_zone"]) == (2, "zone-a")
    assert data["public_keys"] == {"default": KEY}
    assert data["keys"] == [{"name": "default", "type": "ssh", "data": KEY}]
    assert data["meta"] == {"role": "web"} and data["admin_pass"] == "pw"
    assert meta_data(_spec(key_data=None))["public_keys"] == {}


def test_network_data_describes_each_vif() -> None:
    data = network_data(_spec().network_info)
    assert data["links"][0]["ethernet_mac_address"] == "fa:16:3e:00:00:01"
    assert data["networks"] == [{"id": "network0", "link": data["links"][0]["id"], "type": "ipv4_dhcp",
                                 "network_id": "net-1"}]  # fmt: skip


def test_files_follow_the_openstack_layout() -> None:
    files = config_drive_files(_spec())
    assert set(files) == {
        "openstack/latest/meta_data.json", "openstack/latest/network_data.json",
        "openstack/latest/vendor_data.json", "openstack/latest/user_data",
    }  # fmt: skip
    assert files["openstack/latest/user_data"] == b"#!/bin/sh\necho hi\n"
    assert "openstack/latest/user_data" not in config_drive_files(_spec(user_data=None))


@pytest.mark.skipif(shutil.which("isoinfo") is None, reason="isoinfo (genisoimage) is not installed")
def test_iso9660_drive_is_labelled_config_2_and_readable(tmp_path: Path) -> None:
    drive = build_config_drive(config_drive_files(_spec()), tmp_path / "disk.config", "iso9660")
    info = subprocess.run(
        ["isoinfo", "-d", "-i", str(drive)], capture_output=True, text=True, check=True
    ).stdout
    assert "Volume id: config-2" in info
    meta = subprocess.run(["isoinfo", "-R", "-i", str(drive), "-x", "/openstack/latest/meta_data.json"],
                          capture_output=True, check=True).stdout  # fmt: skip
    assert json.loads(meta)["hostname"] == "web-1"
    assert not list(tmp_path.glob(".*part"))


@pytest.mark.skipif(shutil.which("mcopy") is None, reason="mtools is not installed")
def test_vfat_drive_is_labelled_config_2_and_readable(tmp_path: Path) -> None:
    drive = build_config_drive(config_drive_files(_spec()), tmp_path / "disk.config", "vfat")
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    label = subprocess.run(["mlabel", "-s", "-i", str(drive), "::"], capture_output=True, text=True, env=env)
    assert "config-2" in label.stdout.lower()
    user_data = subprocess.run(["mtype", "-i", str(drive), "::/openstack/latest/user_data"],
                               capture_output=True, env=env, check=True).stdout  # fmt: skip
    assert user_data == b"#!/bin/sh\necho hi\n"


def test_the_guest_reads_hostname_uuid_and_keys_from_our_meta_data(tmp_path: Path) -> None:
    """The guest's busybox-sh parsing (guest/scripts.py) against the JSON we write, in a real shell."""
    meta = tmp_path / "meta_data.json"
    other = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC0ther other@host"
    spec = _spec(key_data=KEY + "\n", metadata={"key_name": "mine", "name": "decoy"})
    data = meta_data(spec)
    data["public_keys"]["second"] = other
    meta.write_text(json.dumps(data, indent=2))
    script = f'{METADATA_FUNCTIONS}\njson_string "$1" hostname; json_string "$1" uuid; public_keys "$1"\n'
    out = subprocess.run(["sh", "-c", script, "sh", str(meta)], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "web-1"
    assert lines[1] == spec.uuid
    assert sorted(lines[2:]) == sorted([KEY, other])


def test_a_host_that_does_not_force_one_writes_a_drive_only_when_asked(tmp_path: Path) -> None:
    drive = tmp_path / "disk.config"
    optional = ConfigDrives(force=False)
    assert optional.write(_spec(), drive) is None and not drive.exists()
    assert optional.write(_spec(config_drive=True), drive) == drive and drive.exists()
    assert optional.write(_spec(), drive) is None and not drive.exists()  # a rebuild without: gone
    mandatory = ImageRef(id="guest", properties={"img_config_drive": "mandatory"})
    assert optional.write(_spec(image=mandatory), drive) == drive
    assert ConfigDrives().write(_spec(), drive) == drive  # forced, as before
