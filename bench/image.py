"""Image data path: upload and download MiB/s of a 1 GiB image through the API beside `cp` of the same
file on the same disk (the floor), and the API process's peak memory rise during each transfer.

    .venv/bin/python bench/image.py [--size-mib 1024] [--runs 3] [--dir /var/tmp]

The API (identity + image, filesystem store, SQLite) runs in a child process so its memory can be read
from /proc while the parent uploads with httpx (streaming the file) and downloads to a file; curl does
the same as a check that the Python client is not the bottleneck. Uploads hash md5 + sha512 and fsync
the stored file, so the floor is `cp` followed by an fsync of the copy; downloads fsync their file too.
Every figure is taken --runs times (two cp runs per round) and the best run of each row is set against
the best cp, the medians printed beside them: the disk's and the CPUs' speed vary on shared machines,
and cp goes through the page cache, whose speed on a VM swings with the state of the guest's memory
(pages the guest gave back to the host are slow to take again), so a slow cp must not flatter the
ratios. Targets (httpx rows): >= 50% of the floor, peak memory rise < 64 MiB. A download to /dev/null
shows what the API sends apart from the client's disk, which a download to a file waits for.

Two rows show what bounds uploads on this machine: the hashes alone on its cores, and a receiver with
no HTTP framework (bench/image_bound.py: socket straight into aligned blocks, the two hashes, O_DIRECT)
fed by the same curl. When that receiver cannot reach the target either, the machine cannot.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import httpx
import image_bound  # bench/image_bound.py: run as a script, bench/ is on the path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1024 * 1024
TARGET_RATIO = 0.5
TARGET_MEMORY_MIB = 64.0


def serve(data_dir: Path, port: int) -> None:
    import uvicorn

    from overcast.api.assembly import build_api
    from overcast.cloud import Cloud
    from overcast.config import load_settings
    from overcast.identity.bootstrap import bootstrap
    from overcast.identity.catalog import DEFAULT_SERVICES

    settings = load_settings(data_dir=data_dir, listen=f"127.0.0.1:{port}", log_level="WARNING")
    cloud = Cloud.from_settings(settings)
    bootstrap(settings, cloud.db, tuple(e for e in DEFAULT_SERVICES if e.type in ("identity", "image")))
    # The API service's own app, as identity's bench uses: what passes without a token, the composition
    # of the image service and its settings are the ones a deployment gets.
    uvicorn.run(build_api(cloud), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


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


class Transfers:
    """One upload or download of the source image through the API, by httpx or by curl."""

    def __init__(self, base_url: str, token: str, source: Path, work: Path) -> None:
        self.url = f"{base_url}/image/v2"
        self.headers = {"X-Auth-Token": token}
        self.client = httpx.Client(base_url=self.url, headers=self.headers, timeout=600)
        self.source = source
        self.target = work / "download.img"
        self.size = source.stat().st_size

    def new_image(self) -> str:
        body = {"name": "bench", "disk_format": "raw", "container_format": "bare"}
        return str(self.client.post("/images", json=body).json()["id"])

    def delete(self, image_id: str) -> None:
        self.client.delete(f"/images/{image_id}").raise_for_status()
        self.target.unlink(missing_ok=True)

    def upload_httpx(self, image_id: str) -> None:
        # A client that knows the size sends it (as openstacksdk does for files): no chunked framing.
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(self.size)}
        response = self.client.put(
            f"/images/{image_id}/file", content=file_chunks(self.source), headers=headers
        )
        response.raise_for_status()
        assert self.client.get(f"/images/{image_id}").json()["size"] == self.size

    def download_httpx(self, image_id: str) -> None:
        with self.client.stream("GET", f"/images/{image_id}/file") as response:
            response.raise_for_status()
            with self.target.open("wb") as handle:
                # The pieces as they come off the socket: re-cutting them into 1 MiB costs a copy.
                for piece in response.iter_raw():
                    handle.write(piece)
        self._check_download()

    def upload_curl(self, image_id: str) -> None:
        self._curl("-T", str(self.source), "-H", "Content-Type: application/octet-stream", "-H", "Expect:",
                   f"{self.url}/images/{image_id}/file")  # fmt: skip
        assert self.client.get(f"/images/{image_id}").json()["size"] == self.size

    def download_curl(self, image_id: str) -> None:
        self._curl("-o", str(self.target), f"{self.url}/images/{image_id}/file")
        self._check_download()

    def download_to_nothing(self, image_id: str) -> None:
        """What the API sends, without the client's disk (which a download to a file waits for)."""
        self._curl("-o", os.devnull, f"{self.url}/images/{image_id}/file")

    def _curl(self, *args: str) -> None:
        token = f"X-Auth-Token: {self.headers['X-Auth-Token']}"
        subprocess.run(["curl", "-sSf", "-H", token, *args], check=True, stdout=subprocess.DEVNULL)

    def _check_download(self) -> None:
        fsync_file(self.target)
        assert self.target.stat().st_size == self.size


@dataclass
class Row:
    name: str
    seconds: list[float] = field(default_factory=list)
    rises: list[float] = field(default_factory=list)

    def rate(self, size: int) -> float:
        return size / MIB / statistics.median(self.seconds)

    def best_rate(self, size: int) -> float:
        return size / MIB / min(self.seconds)


def measure(server_pid: int, row: Row, transfer: Callable[[], None]) -> None:
    with PeakMemory(server_pid) as memory:
        row.seconds.append(timed(transfer))
    row.rises.append(memory.rise)


def hashing_ceiling(sample_mib: int = 128) -> float:
    """MB/s an upload could reach if md5 + sha512 (Glance's checksum and os_hash_value) were the only
    work, each on its own core: the CPU cost of the hashes over the cores this machine has."""
    block = os.urandom(MIB)
    cpu_seconds = 0.0
    for algorithm in ("md5", "sha512"):
        digest = hashlib.new(algorithm)
        started = time.process_time()
        for _ in range(sample_mib):
            digest.update(block)
        cpu_seconds += time.process_time() - started
    cores = min(2, os.cpu_count() or 1)  # two hashes: a third core would sit idle
    return sample_mib / (cpu_seconds / cores)


def report(
    size: int, floor: Row, uploads: dict[str, Row], downloads: dict[str, Row], bound: Row, ceiling: float
) -> bool:
    """Print the table; True when the targets are met. Each row's best run is set against the best
    cp (like with like: the runs of one round see the same machine), its median shown beside it."""
    cp_rate = floor.best_rate(size)
    print(f"{'':26}{'median':>10}{'best':>10}{'best/cp':>9}{'API RSS rise':>15}   (MiB/s)")
    for row in (floor, uploads["httpx"], uploads["curl"], bound, *downloads.values()):
        rise = f"{max(row.rises):.1f} MiB" if row.rises else ""
        best = row.best_rate(size)
        print(f"{row.name:26}{row.rate(size):10.1f}{best:10.1f}{best / cp_rate:9.0%}{rise:>15}")
    print(f"{'(md5 + sha512 alone)':26}{'':10}{ceiling:10.1f}{ceiling / cp_rate:9.0%}"
          "   the hashes' cost on this machine's cores")  # fmt: skip
    verdicts = {
        direction: row.best_rate(size) >= TARGET_RATIO * cp_rate and max(row.rises) < TARGET_MEMORY_MIB
        for direction, row in (("uploads", uploads["httpx"]), ("downloads", downloads["httpx"]))
    }
    outcome = ", ".join(f"{direction} {'met' if met else 'NOT met'}" for direction, met in verdicts.items())
    print(f"targets (httpx): >= {TARGET_RATIO:.0%} of cp, RSS rise < {TARGET_MEMORY_MIB:.0f} MiB: {outcome}")
    if bound.best_rate(size) < TARGET_RATIO * cp_rate:
        print(f"  uploads are out of this machine's reach: the no-HTTP receiver makes "
              f"{bound.best_rate(size) / cp_rate:.0%} of cp, and the API "
              f"{uploads['httpx'].best_rate(size) / bound.best_rate(size):.0%} of that receiver")  # fmt: skip
    sent = downloads["sent"].best_rate(size)
    if not verdicts["downloads"] and sent >= TARGET_RATIO * cp_rate:
        print(f"  downloads: the API sends {sent / cp_rate:.0%} of cp's rate; "
              "the rest is the client writing and fsyncing its file")  # fmt: skip
    return all(verdicts.values())


def copy_and_fsync(source: Path, copy: Path) -> None:
    subprocess.run(["cp", str(source), str(copy)], check=True)
    fsync_file(copy)


def wait_for_api(base_url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base_url}/image", timeout=1).status_code == 300:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("the API did not start")
        time.sleep(0.1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=3, help="the table shows the median of the runs")
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
        wait_for_api(base_url, server)
        source = work / "source.img"
        make_source(source, size)
        transfers = Transfers(base_url, token(base_url, admin_password(work / "cloud")), source, work)
        copy = work / "copy.img"
        floor = Row("cp + fsync (the floor)")
        bound = Row("(no-HTTP receiver, curl)")
        uploads = {"httpx": Row("API upload, httpx"), "curl": Row("API upload, curl -T")}
        downloads = {
            "httpx": Row("API download, httpx"),
            "curl": Row("API download, curl -o"),
            "sent": Row("(download to /dev/null)"),
        }
        clients = {
            "httpx": (transfers.upload_httpx, transfers.download_httpx),
            "curl": (transfers.upload_curl, transfers.download_curl),
        }
        loads = [os.getloadavg()[0]]
        for _ in range(args.runs):
            for _ in range(2):
                floor.seconds.append(timed(lambda: copy_and_fsync(source, copy)))
                copy.unlink()
            bound.seconds.append(image_bound.upload_seconds(source, work))
            for client, (upload, download) in clients.items():
                image_id = transfers.new_image()
                measure(server.pid, uploads[client], partial(upload, image_id))
                measure(server.pid, downloads[client], partial(download, image_id))
                if client == "curl":
                    measure(server.pid, downloads["sent"], partial(transfers.download_to_nothing, image_id))
                transfers.delete(image_id)
            loads.append(os.getloadavg()[0])

        print(f"\nImage data path, {args.size_mib} MiB image, {args.runs} runs, files in {work}")
        low, high = min(loads), max(loads)
        print(f"1-minute load average during the runs: {low:.2f}-{high:.2f} ({os.cpu_count()} CPUs)")
        ok = report(size, floor, uploads, downloads, bound, hashing_ceiling())
        return 0 if ok else 1
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
