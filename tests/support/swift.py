"""A real one-node Swift (Debian's swift-proxy/-account/-container/-object) on 127.0.0.1 for tests.

Everything lives in one temporary directory: swift.conf, the three one-device rings (swift-ring-builder),
the device, the server configs and logs. memcached runs beside it because tempauth keeps its tokens
there. `SwiftCluster.start()` installs the Debian packages when they are missing (root + apt only).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.ports import free_port

PACKAGES = ("swift", "swift-proxy", "swift-account", "swift-container", "swift-object", "memcached")
SERVERS = ("account", "container", "object")
USER, KEY = "test:tester", "testing"
_START_TIMEOUT = 60.0


class SwiftUnavailable(RuntimeError):
    pass


def _install() -> None:
    if all(shutil.which(f"swift-{name}-server") for name in (*SERVERS, "proxy")) and shutil.which(
        "memcached"
    ):
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise SwiftUnavailable("Swift is not installed and cannot be installed here (needs root apt)")
    result = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES],
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise SwiftUnavailable(f"apt-get install swift failed: {result.stderr[-2000:]}")


class SwiftCluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.ports = {name: free_port() for name in (*SERVERS, "proxy", "memcached")}
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def auth_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}/auth/v1.0"

    def _common(self) -> str:
        # Logs go to a UDP port nobody listens on: the servers need no syslog on the test machine.
        return (
            f"[DEFAULT]\nbind_ip = 127.0.0.1\nswift_dir = {self.root}\ndevices = {self.root / 'srv'}\n"
            f"mount_check = false\nworkers = 0\nuser = {getpass.getuser()}\nlog_udp_host = 127.0.0.1\n"
            f"log_udp_port = {free_port()}\n"
        )

    def _write_configs(self) -> None:
        (self.root / "srv" / "sdb1").mkdir(parents=True)
        (self.root / "swift.conf").write_text(
            "[swift-hash]\nswift_hash_path_suffix = overcast-test\nswift_hash_path_prefix = overcast\n\n"
            "[storage-policy:0]\nname = gold\ndefault = yes\n"
        )
        for name in SERVERS:
            (self.root / f"{name}-server.conf").write_text(
                f"{self._common()}bind_port = {self.ports[name]}\n\n"
                f"[pipeline:main]\npipeline = {name}-server\n\n"
                f"[app:{name}-server]\nuse = egg:swift#{name}\n"
                + ("\n[object-updater]\n[object-auditor]\n[object-replicator]\n" if name == "object" else "")
            )
        pipeline = (
            "catch_errors gatekeeper healthcheck cache listing_formats slo dlo tempauth copy proxy-server"
        )
        (self.root / "proxy-server.conf").write_text(
            f"{self._common()}bind_port = {self.ports['proxy']}\n\n[pipeline:main]\npipeline = {pipeline}\n\n"
            "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
            "[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n\n"
            "[filter:cache]\nuse = egg:swift#memcache\n"
            f"memcache_servers = 127.0.0.1:{self.ports['memcached']}\n\n"
            + "".join(f"[filter:{name}]\nuse = egg:swift#{name}\n\n" for name in
                      ("catch_errors", "gatekeeper", "healthcheck", "listing_formats", "slo", "dlo", "copy"))
        )  # fmt: skip

    def _build_rings(self) -> None:
        for name in SERVERS:
            builder = str(self.root / f"{name}.builder")
            for args in (
                ["create", "4", "1", "1"],
                ["add", f"r1z1-127.0.0.1:{self.ports[name]}/sdb1", "100"],
                ["rebalance"],
            ):
                result = subprocess.run(
                    ["swift-ring-builder", builder, *args], capture_output=True, text=True, check=False
                )
                # rebalance exits 1 for warnings (e.g. a single replica); only 2 is an error.
                if result.returncode >= 2:
                    raise SwiftUnavailable(
                        f"swift-ring-builder {args[0]} failed: {result.stdout}{result.stderr}"
                    )

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.root / f"{name}.log").open("wb") as log:  # the server writes through its own copy
            self.processes.append(
                subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            )

    def start(self) -> None:
        _install()
        self._write_configs()
        self._build_rings()
        port = str(self.ports["memcached"])
        self._spawn(
            "memcached", ["memcached", "-l", "127.0.0.1", "-p", port, "-U", "0", "-u", getpass.getuser()]
        )
        for name in (*SERVERS, "proxy"):
            self._spawn(name, [f"swift-{name}-server", str(self.root / f"{name}-server.conf")])
        deadline = time.monotonic() + _START_TIMEOUT
        while True:
            try:
                response = httpx.get(
                    self.auth_url, headers={"X-Auth-User": USER, "X-Auth-Key": KEY}, timeout=2
                )
                if response.status_code < 300:
                    storage = response.headers["X-Storage-Url"]
                    token = response.headers["X-Auth-Token"]
                    probe = httpx.put(f"{storage}/probe", headers={"X-Auth-Token": token}, timeout=5)
                    if probe.status_code in (201, 202):
                        return
            except httpx.HTTPError:
                pass
            for process in self.processes:
                if process.poll() is not None:
                    raise SwiftUnavailable(
                        f"a Swift process exited early; logs in {self.root}: {self.logs()}"
                    )
            if time.monotonic() > deadline:
                raise SwiftUnavailable(f"Swift did not answer within {_START_TIMEOUT}s: {self.logs()}")
            time.sleep(0.2)

    def logs(self) -> str:
        return "".join(f"\n--- {path.name}\n{path.read_text(errors='replace')[-1500:]}"
                       for path in sorted(self.root.glob("*.log")))  # fmt: skip

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(5)
