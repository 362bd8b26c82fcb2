"""Image data path: upload and download MB/s of a 1 GiB image through the API beside `cp` of the same
file on the same disk (the floor), and the API process's peak memory rise during each transfer.

    .venv/bin/python bench/image.py [--size-mib 1024] [--dir /var/tmp]

The API (identity + image, filesystem store, SQLite) runs in a child process so its memory can be read
from /proc while the parent uploads with httpx (streaming the file) and downloads to a file. Uploads
hash md5 + sha512 and fsync the stored file, so the floor is `cp` followed by an fsync of the copy.
Targets: >= 50% of cp, and a peak memory rise under 64 MiB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1024 * 1024
TARGET_RATIO = 0.5
TARGET_MEMORY_MIB = 64.0


def serve(data_dir: Path, port: int) -> None:
    import uvicorn

    from overcast.api.app import create_app
    from overcast.api.openstack import identity, image
    from overcast.cloud import Cloud
    from overcast.config import load_settings
    from overcast.identity.bootstrap import bootstrap
    from overcast.identity.catalog import DEFAULT_SERVICES

    settings = load_settings(data_dir=data_dir, listen=f"127.0.0.1:{port}", log_level="WARNING")
    cloud = Cloud.from_settings(settings)
    bootstrap(settings, cloud.db, tuple(e for e in DEFAULT_SERVICES if e.type in ("identity", "image")))
    app = create_app(settings, db=cloud.db, transport=cloud.transport)
    identity.install(app, settings, cloud.db)
    image.install(app, cloud)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class PeakMemory:
    """Samples a process's resident memory every 5 ms while a transfer runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.baseline = rss_mib(pid)
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib(self.pid))

    @property
    def rise(self) -> float:
        return self.peak - self.baseline


def timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_source(path: Path, size: int) -> None:
    block = os.urandom(MIB)
    with path.open("wb") as handle:
        for index in range(size // MIB):
            # Vary each block so nothing below us can deduplicate or compress it.
            handle.write(index.to_bytes(8, "little") + block[8:])
    fsync_file(path)


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(MIB):
            yield chunk


def token(base_url: str, password: str) -> str:
    body = {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"name": "Default"}, "password": password}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}},
    }}  # fmt: skip
    response = httpx.post(f"{base_url}/identity/v3/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


def admin_password(data_dir: Path) -> str:
    import yaml

    clouds = yaml.safe_load((data_dir / "clouds.yaml").read_text())["clouds"]
    return str(clouds["overcast-admin"]["auth"]["password"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--dir", type=Path, default=None, help="where the files go (default: a temp dir)")
    parser.add_argument("--serve", nargs=2, metavar=("DATA_DIR", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return 0

    work = Path(tempfile.mkdtemp(prefix="bench-image-", dir=args.dir))
    size = args.size_mib * MIB
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(work / "cloud"), str(port)])
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base_url}/image", timeout=1).status_code == 300:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the API did not start")
            time.sleep(0.1)
        source = work / "source.img"
        make_source(source, size)

        copy = work / "copy.img"
        cp_seconds = timed(
            lambda: (subprocess.run(["cp", str(source), str(copy)], check=True), fsync_file(copy))
        )
        copy.unlink()

        headers = {"X-Auth-Token": token(base_url, admin_password(work / "cloud"))}
        client = httpx.Client(base_url=f"{base_url}/image/v2", headers=headers, timeout=600)
        image_id = client.post("/images", json={"name": "bench", "disk_format": "raw",
                                                "container_format": "bare"}).json()["id"]  # fmt: skip

        def upload() -> None:
            response = client.put(f"/images/{image_id}/file", content=file_chunks(source),
                                  headers={"Content-Type": "application/octet-stream"})  # fmt: skip
            response.raise_for_status()

        with PeakMemory(server.pid) as upload_memory:
            upload_seconds = timed(upload)
        assert client.get(f"/images/{image_id}").json()["size"] == size

        target = work / "download.img"

        def download() -> None:
            with client.stream("GET", f"/images/{image_id}/file") as response, target.open("wb") as handle:
                response.raise_for_status()
                for chunk in response.iter_raw(MIB):
                    handle.write(chunk)
            fsync_file(target)

        with PeakMemory(server.pid) as download_memory:
            download_seconds = timed(download)
        assert target.stat().st_size == size

        cp_rate = size / MIB / cp_seconds
        upload_rate, download_rate = size / MIB / upload_seconds, size / MIB / download_seconds
        rows = [
            ("cp + fsync (floor)", cp_rate, 1.0, None),
            ("API upload (md5+sha512)", upload_rate, upload_rate / cp_rate, upload_memory.rise),
            ("API download", download_rate, download_rate / cp_rate, download_memory.rise),
        ]
        print(f"\nImage data path, {args.size_mib} MiB image, files in {work}")
        print(f"{'':28}{'MB/s':>10}{'vs cp':>9}{'API RSS rise':>15}")
        for name, rate, ratio, rise in rows:
            memory = "" if rise is None else f"{rise:.1f} MiB"
            print(f"{name:28}{rate:10.1f}{ratio:9.0%}{memory:>15}")
        ok = all(ratio >= TARGET_RATIO for _, _, ratio, _ in rows) and all(
            rise < TARGET_MEMORY_MIB for *_, rise in rows if rise is not None
        )
        print(f"targets: >= {TARGET_RATIO:.0%} of cp, RSS rise < {TARGET_MEMORY_MIB:.0f} MiB: "
              f"{'met' if ok else 'NOT met'}")  # fmt: skip
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
