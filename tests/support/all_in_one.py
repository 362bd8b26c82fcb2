"""`overcast all-in-one` in its own process, as the README's run command starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.ports import free_port

OVERCAST = [sys.executable, "-m", "overcast.cli.main"]


@dataclass
class RunningCloud:
    process: subprocess.Popen[str]
    url: str
    data_dir: Path
    banner: str


def start_cloud(data_dir: Path, *extra: str) -> RunningCloud:
    port = free_port()
    env = {**os.environ, "OVERCAST_CONFIG": str(data_dir / "none.toml"), "OVERCAST_REPORT_INTERVAL": "0.5"}
    options = extra or ("--compute-driver", "fake")  # QEMU only where a test asks for it
    process = subprocess.Popen(
        [*OVERCAST, "all-in-one", "--data-dir", str(data_dir), "--listen", f"127.0.0.1:{port}", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError("all-in-one exited early:\n" + "".join(lines))
        lines.append(line)
        if line.startswith("Health:"):  # the ready banner's last line
            break
    else:
        process.kill()
        raise AssertionError("all-in-one did not become ready:\n" + "".join(lines))
    return RunningCloud(process, f"http://127.0.0.1:{port}", data_dir, "".join(lines))


def stop_cloud(cloud: RunningCloud) -> int:
    cloud.process.send_signal(signal.SIGTERM)
    try:
        return cloud.process.wait(timeout=30)
    finally:
        if cloud.process.poll() is None:
            cloud.process.kill()
            cloud.process.wait()
        if cloud.process.stdout is not None:
            cloud.process.stdout.close()
