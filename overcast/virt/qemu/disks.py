"""Disks through qemu-img: one cached base per image per host, qcow2 overlays, resize, flatten.

Bases live in `<instances>/_base/<image id>` and stay read-only; every instance disk is a qcow2
overlay whose backing file is a base. A base is removed only when no overlay uses it any more.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from overcast.virt.driver import DriverError, ImageRef

GiB = 1024**3
_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")


def qemu_img(*args: str, timeout: float = 600) -> str:
    try:
        result = subprocess.run(
            ["qemu-img", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DriverError(f"qemu-img {args[0]} failed: {exc}") from exc
    if result.returncode != 0:
        raise DriverError(f"qemu-img {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout


def image_info(path: Path, *, force_share: bool = False) -> dict[str, Any]:
    args = ["info", "--output=json"] + (["-U"] if force_share else []) + [str(path)]
    info: dict[str, Any] = json.loads(qemu_img(*args))
    return info


def create_overlay(base: Path, overlay: Path, size_bytes: int = 0) -> None:
    """A qcow2 overlay over `base`, at least as big as the base (images never shrink)."""
    info = image_info(base)
    size = max(size_bytes, int(info["virtual-size"]))
    qemu_img("create", "-q", "-f", "qcow2", "-b", str(base.absolute()), "-F", str(info["format"]),
             str(overlay), str(size))  # fmt: skip
    overlay.chmod(0o600)  # the guest's disk: its root password and data are the project's alone


def grow(path: Path, size_bytes: int) -> None:
    """Grow a disk to `size_bytes` (cold); a smaller request leaves it as it is."""
    if size_bytes > int(image_info(path)["virtual-size"]):
        qemu_img("resize", "-q", str(path), str(size_bytes))


def rebase_unsafe(path: Path, backing: Path) -> None:
    """Point the overlay at `backing`, a copy of its old backing file (no data is compared or copied)."""
    backing_format = str(image_info(backing)["format"])
    qemu_img("rebase", "-q", "-u", "-F", backing_format, "-b", str(backing.absolute()), str(path))


def detach_backing(path: Path) -> None:
    """Drop the overlay's backing reference, keeping only its own clusters (the base must be re-attached
    with rebase_unsafe before the disk is used)."""
    qemu_img("rebase", "-q", "-u", "-b", "", str(path))


def flatten(source: Path, dest: Path, *, force_share: bool = False) -> None:
    """A standalone qcow2 copy of `source` and its backing chain (what a snapshot uploads)."""
    args = ["convert", "-q", "-O", "qcow2"] + (["-U"] if force_share else []) + [str(source), str(dest)]
    qemu_img(*args)


def backing_file(path: Path) -> Path | None:
    try:
        info = image_info(path, force_share=True)
    except DriverError:
        return None
    backing = info.get("full-backing-filename") or info.get("backing-filename")
    return Path(backing) if backing else None


class ImageCache:
    """The per-host cache of base images, safe for concurrent spawns of the same image."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    def path_for(self, image_id: str) -> Path:
        name = image_id if _SAFE_ID.match(image_id) else hashlib.sha256(image_id.encode()).hexdigest()
        return self.base_dir / name

    def fetch(self, image: ImageRef) -> Path:
        """The cached base of `image`, copied from `image.path` the first time it is needed."""
        base = self.path_for(image.id)
        with self._lock_for(base.name):
            if base.exists():
                return base
            if not image.path or not Path(image.path).is_file():
                raise DriverError(
                    f"Image {image.id} is not cached on this host and has no local file to copy."
                )
            self.base_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            staging = base.with_name(f".{base.name}.part")
            staging.unlink(missing_ok=True)
            try:
                # The manager's image cache usually sits on the same filesystem: share its blocks.
                os.link(image.path, staging)
            except OSError:
                shutil.copyfile(image.path, staging)
            image_info(staging)  # refuse anything qemu-img cannot read before it becomes a base
            staging.chmod(0o400)  # read-only, and a private image's data is not for other users
            os.replace(staging, base)
            return base

    def prune(self, in_use: Iterable[Path]) -> list[Path]:
        """Remove the bases no overlay uses; returns what was removed."""
        used = {path.resolve() for path in in_use}
        removed = []
        for base in sorted(self.base_dir.glob("*")) if self.base_dir.is_dir() else []:
            if base.name.startswith("."):
                continue
            with self._lock_for(base.name):
                if base.resolve() not in used:
                    base.unlink(missing_ok=True)
                    removed.append(base)
        return removed

    def _lock_for(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())
