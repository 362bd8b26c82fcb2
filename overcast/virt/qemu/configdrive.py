"""The config drive: OpenStack's layout on an ISO9660 (or vfat) volume labelled `config-2`.

openstack/latest/meta_data.json     uuid, name, hostname, public_keys, keys, launch_index, ...
openstack/latest/user_data          the user's data, verbatim (only when given)
openstack/latest/network_data.json  links / networks / services from the instance's network_info
openstack/latest/vendor_data.json   {}
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from overcast.config import DEFAULT_AVAILABILITY_ZONE
from overcast.virt.driver import DriverError, InstanceSpec

LABEL = "config-2"
LATEST = "openstack/latest"
DriveFormat = Literal["iso9660", "vfat"]
_VFAT_SIZE = 64 * 1024 * 1024


def meta_data(
    spec: InstanceSpec,
    *,
    availability_zone: str = DEFAULT_AVAILABILITY_ZONE,
    launch_index: int = 0,
    admin_password: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "uuid": spec.uuid,
        "name": spec.name,
        "hostname": spec.hostname,
        "launch_index": launch_index,
        "availability_zone": availability_zone,
        "meta": dict(spec.metadata),
        "public_keys": {},
        "keys": [],
        "devices": [],
    }
    if spec.key_data:
        key_name = spec.metadata.get("key_name", "default")
        data["public_keys"] = {key_name: spec.key_data}
        data["keys"] = [{"name": key_name, "type": "ssh", "data": spec.key_data}]
    if admin_password:
        data["admin_pass"] = admin_password
    return data


def network_data(network_info: list[dict[str, Any]]) -> dict[str, Any]:
    links, networks = [], []
    for index, vif in enumerate(network_info):
        link_id = f"tap{str(vif.get('id', index))[:11]}"
        links.append(
            {"id": link_id, "vif_id": vif.get("id"), "type": "phy",
             "ethernet_mac_address": vif.get("address"), "mtu": vif.get("mtu", 1500)}
        )  # fmt: skip
        networks.append({"id": f"network{index}", "link": link_id, "type": "ipv4_dhcp",
                         "network_id": vif.get("network_id", vif.get("id"))})  # fmt: skip
    return {"links": links, "networks": networks, "services": []}


def config_drive_files(
    spec: InstanceSpec,
    *,
    availability_zone: str = DEFAULT_AVAILABILITY_ZONE,
    launch_index: int = 0,
    admin_password: str | None = None,
) -> dict[str, bytes]:
    """Relative path -> content of every file on the drive."""
    meta = meta_data(spec, availability_zone=availability_zone, launch_index=launch_index,
                     admin_password=admin_password)  # fmt: skip
    files = {
        f"{LATEST}/meta_data.json": json.dumps(meta, indent=2).encode(),
        f"{LATEST}/network_data.json": json.dumps(network_data(spec.network_info), indent=2).encode(),
        f"{LATEST}/vendor_data.json": b"{}",
    }
    if spec.user_data is not None:
        files[f"{LATEST}/user_data"] = spec.user_data
    return files


@dataclass(frozen=True)
class ConfigDrives:
    """How this host writes its VMs' config drives: its availability zone, in its volume format."""

    availability_zone: str = DEFAULT_AVAILABILITY_ZONE
    drive_format: DriveFormat = "iso9660"
    force: bool = True  # Nova's force_config_drive; without it, only a server or image asking gets one

    def wanted(self, spec: InstanceSpec) -> bool:
        return self.force or spec.config_drive or spec.image.properties.get("img_config_drive") == "mandatory"

    def write(self, spec: InstanceSpec, dest: Path, *, admin_password: str | None = None) -> Path | None:
        """The VM's config drive at ``dest``, or none (the guest then asks the metadata service)."""
        if not self.wanted(spec):
            dest.unlink(missing_ok=True)
            return None
        zone = self.availability_zone
        files = config_drive_files(spec, availability_zone=zone, admin_password=admin_password)
        return build_config_drive(files, dest, self.drive_format)


def build_config_drive(files: dict[str, bytes], dest: Path, drive_format: DriveFormat = "iso9660") -> Path:
    with tempfile.TemporaryDirectory(prefix="overcast-configdrive-") as tmp:
        tree = Path(tmp) / "tree"
        for relative, content in files.items():
            path = tree / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        staging = dest.with_name(f".{dest.name}.part")
        if drive_format == "iso9660":
            _make_iso(tree, staging)
        else:
            _make_vfat(tree, staging)
        staging.chmod(0o600)  # it carries the root password (admin_pass) and the user data
        os.replace(staging, dest)
    return dest


def _make_iso(tree: Path, dest: Path) -> None:
    tool = shutil.which("genisoimage") or shutil.which("mkisofs")
    if tool:
        args = [
            tool,
            "-quiet",
            "-o",
            str(dest),
            "-V",
            LABEL,
            "-J",
            "-R",
            "-input-charset",
            "utf-8",
            str(tree),
        ]
    elif shutil.which("xorriso"):
        args = ["xorriso", "-as", "mkisofs", "-quiet", "-o", str(dest), "-V", LABEL, "-J", "-R", str(tree)]
    else:
        raise DriverError("No genisoimage/xorriso to build the config drive (apt-get install genisoimage).")
    _run(args)


def _make_vfat(tree: Path, dest: Path) -> None:
    if not (shutil.which("mkfs.vfat") or Path("/usr/sbin/mkfs.vfat").exists()) or not shutil.which("mcopy"):
        raise DriverError("No mkfs.vfat/mcopy to build the config drive (apt-get install dosfstools mtools).")
    with dest.open("wb") as handle:
        handle.truncate(_VFAT_SIZE)
    _run([shutil.which("mkfs.vfat") or "/usr/sbin/mkfs.vfat", "-n", LABEL, str(dest)])
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    for entry in sorted(tree.iterdir()):
        _run(["mcopy", "-s", "-i", str(dest), str(entry), "::"], env=env)


def _run(args: list[str], env: dict[str, str] | None = None) -> None:
    result = subprocess.run(args, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise DriverError(f"Building the config drive failed: {' '.join(args[:1])}: {result.stderr.strip()}")
