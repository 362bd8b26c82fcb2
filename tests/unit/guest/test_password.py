"""The guest's admin password: read from our config drive's meta_data.json and hashed into /etc/shadow
by the guest's own shell functions, run here under the host's busybox (the guest's shell and tools)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from overcast.guest import scripts
from overcast.virt.driver import ImageRef, InstanceSpec
from overcast.virt.qemu.configdrive import LATEST, config_drive_files

BUSYBOX = Path("/bin/busybox")
pytestmark = pytest.mark.skipif(not BUSYBOX.exists(), reason="busybox is not installed")


def guest_shell(tmp_path: Path, script: str, *args: str) -> str:
    functions = tmp_path / "metadata.sh"
    functions.write_text(scripts.METADATA_FUNCTIONS)
    # Only busybox applets, as in the guest (PATH holds a folder of applet links).
    applets = tmp_path / "bin"
    if not applets.exists():
        applets.mkdir()
        for applet in ("sed", "head", "tr", "grep", "mkpasswd", "chmod", "mv", "cat", "printf", "echo"):
            (applets / applet).symlink_to(BUSYBOX)
    result = subprocess.run(
        [str(BUSYBOX), "sh", "-c", f". {functions}; {script}", "guest", *args],
        capture_output=True, text=True, check=True, env={"PATH": str(applets)},
    )  # fmt: skip
    return result.stdout


def meta_data_file(tmp_path: Path, password: str | None) -> Path:
    spec = InstanceSpec(
        uuid="0b7c2f39-5d0e-4a55-8d0a-6d6b3c1f2a11", name="vm", hostname="vm", vcpus=1, memory_mb=128,
        root_gb=1, image=ImageRef(id="img"), metadata={"role": "web"},
    )  # fmt: skip
    path = tmp_path / "meta_data.json"
    path.write_bytes(config_drive_files(spec, admin_password=password)[f"{LATEST}/meta_data.json"])
    return path


def crypt_with_salt(password: str, hashed: str) -> str:
    salt = hashed.split("$")[2]
    return subprocess.run([str(BUSYBOX), "mkpasswd", "-m", "sha512", password, salt], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip


@pytest.mark.parametrize("password", ["Gx7pQ2mK9vLr", 'with spaces, "quotes", {braces} and \\ too'])
def test_admin_pass_from_the_config_drive_is_read_back_verbatim(tmp_path: Path, password: str) -> None:
    meta = meta_data_file(tmp_path, password)
    assert json.loads(meta.read_text())["admin_pass"] == password  # Nova's key on the config drive
    assert guest_shell(tmp_path, 'json_line_string "$1" admin_pass', str(meta)) == password + "\n"


def test_no_admin_pass_reads_as_empty(tmp_path: Path) -> None:
    meta = meta_data_file(tmp_path, None)
    assert guest_shell(tmp_path, 'json_line_string "$1" admin_pass', str(meta)) == ""


def test_root_gets_a_sha512_hash_of_the_password_and_other_entries_stay(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text(scripts.SHADOW + "daemon:*::0:99999:7:::\n")
    password = 'p4ss "word", with \\ odd characters'
    guest_shell(tmp_path, 'set_root_password "$1" "$2"', password, str(shadow))
    root, daemon = shadow.read_text().splitlines()
    fields = root.split(":")
    assert fields[0] == "root" and fields[1].startswith("$6$")
    assert crypt_with_salt(password, fields[1]) == fields[1]
    assert crypt_with_salt("wrong", fields[1]) != fields[1]
    assert daemon == "daemon:*::0:99999:7:::"
    assert shadow.stat().st_mode & 0o777 == 0o600


def test_the_guest_shadow_file_holding_only_root_gets_the_password(tmp_path: Path) -> None:
    shadow = tmp_path / "shadow"
    shadow.write_text(scripts.SHADOW)
    assert scripts.SHADOW.split(":")[1] == "*"  # locked until the password arrives
    guest_shell(tmp_path, 'set_root_password "$1" "$2"', "Only-Root-1", str(shadow))
    (root,) = shadow.read_text().splitlines()
    hashed = root.split(":")[1]
    assert crypt_with_salt("Only-Root-1", hashed) == hashed
