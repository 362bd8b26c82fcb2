"""The volume service's own tgtd: started, supervised and stopped by it, driven through tgtadm.

Each volume host runs a tgtd of its own beside any the system runs: its control socket is
`/var/run/tgtd/socket.<control port>` (the iSCSI port number, so two volume hosts on one machine do
not meet) and it listens for iSCSI only on the configured portal. tgtd ignores SIGTERM, so it is
stopped as tgt's own service stops it: targets removed, then `--op delete --mode system`.

A tgtd left running by a volume service that crashed is adopted (its pid file names it), so attached
VMs keep their disks across a restart of the service.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from overcast.volume.drivers.base import VolumeDriverError

LOG = logging.getLogger(__name__)

TGTADM_TIMEOUT = 30.0
START_TIMEOUT = 10.0
MAX_RETRY_INTERVAL = 60.0
CONTROL_DIR = Path("/var/run/tgtd")
_TARGET_LINE = re.compile(r"^Target (\d+): (\S+)$", re.MULTILINE)


class TgtError(VolumeDriverError):
    default_message = "tgtd or tgtadm failed."


class Tgtd:
    """One tgtd: `start` (or adopt), `ensure_running` (restart if it died), tgtadm calls, `stop`."""

    def __init__(self, state_dir: Path, portal_address: str, port: int) -> None:
        self.state_dir = state_dir
        self.portal_address = portal_address
        self.port = port
        # tgtd takes control ports up to 32767 only; the iSCSI port, folded into that range, keeps two
        # volume hosts of one machine apart.
        self.control_port = port % 32768
        self.pid_file = state_dir / "tgtd.pid"
        self.log_file = state_dir / "tgtd.log"
        self._process: subprocess.Popen[bytes] | None = None

    # --- the daemon -------------------------------------------------------------------------------
    def alive(self) -> bool:
        return self._answers()

    def ready(self) -> bool:
        """Whether this pool's own tgtd runs and answers (tgtadm calls are refused otherwise)."""
        return self._owned() and self._answers()

    def start(self) -> bool:
        """Make sure our tgtd runs; True when it was (re)started empty, False when a live one was adopted.
        A tgtd on our control port that this pool did not start (another cloud's) is refused, not used."""
        if self._answers():
            if self._owned():
                LOG.info("adopting the running tgtd on control port %s", self.control_port)
                return False
            raise TgtError(
                f"Another tgtd (not this volume host's) answers on control port {self.control_port}: "
                "give this volume host its own iscsi_port."
            )
        self._kill_recorded()
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        portal = f"{self.portal_address}:{self.port}"
        if ":" in self.portal_address:
            portal = f"[{self.portal_address}]:{self.port}"
        command = [
            "tgtd", "--foreground", "--control-port", str(self.control_port), "--iscsi", f"portal={portal}",
        ]  # fmt: skip
        with self.log_file.open("ab") as log:
            # Its own session: a Ctrl-C meant for the service does not reach it, and it outlives a crash.
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        # tgtd writes no pid file in the foreground: recorded here, it lets the next start of the service
        # adopt or stop a tgtd this process left behind.
        self.pid_file.write_text(f"{self._process.pid}\n")
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self._process.poll() is not None:
                raise TgtError(f"tgtd exited at start ({self._process.returncode}): see {self.log_file}")
            if time.monotonic() > deadline:
                raise TgtError(
                    f"tgtd did not answer on control port {self.control_port}: see {self.log_file}"
                )
            time.sleep(0.05)
        LOG.info("started tgtd (pid %s) for iSCSI portal %s", self._process.pid, portal)
        return True

    def ensure_running(self) -> bool:
        """Restart tgtd if it died; True when it had to (its targets are gone and must be re-created)."""
        if self._owned() and self._answers():
            return False
        LOG.warning("tgtd on control port %s is not answering: restarting it", self.control_port)
        self._reap()
        return self.start()

    def stop(self) -> None:
        owned = self._owned()
        if owned and self._answers():
            for tid, _ in self.targets():
                with contextlib.suppress(TgtError):
                    self.tgtadm(
                        "--lld", "iscsi", "--op", "delete", "--mode", "target", "--tid", str(tid), "--force"
                    )
            with contextlib.suppress(TgtError):
                self._tgtadm("--op", "delete", "--mode", "system")
            deadline = time.monotonic() + 5
            while self._answers() and time.monotonic() < deadline:
                time.sleep(0.05)
        self._kill_recorded()
        self._reap()
        if owned:
            # tgtd leaves its control socket behind when it exits.
            for leftover in (
                CONTROL_DIR / f"socket.{self.control_port}",
                CONTROL_DIR / f"socket.{self.control_port}.lock",
            ):
                leftover.unlink(missing_ok=True)

    def _answers(self) -> bool:
        try:
            self._tgtadm("--op", "show", "--mode", "sys")
        except TgtError:
            return False
        return True

    def _owned(self) -> bool:
        """Whether a tgtd this pool started (in this process or a previous run of it) is alive."""
        if self._process is not None:
            return self._process.poll() is None
        return self._recorded_pid() is not None

    def _recorded_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        # Only a tgtd on our control port is ours to kill (pids are reused).
        is_ours = cmdline and cmdline[0].endswith(b"tgtd") and str(self.control_port).encode() in cmdline
        return pid if is_ours else None

    def _kill_recorded(self) -> None:
        pid = self._recorded_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)

    def _reap(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(5)
            self._process = None

    # --- tgtadm -----------------------------------------------------------------------------------
    def tgtadm(self, *args: str) -> str:
        """Run tgtadm against this pool's own tgtd; refused when what answers on the control port is not
        it (another cloud's targets are not ours to change)."""
        if not self._owned():
            raise TgtError(f"This volume host's tgtd (control port {self.control_port}) is not running.")
        return self._tgtadm(*args)

    def _tgtadm(self, *args: str) -> str:
        command = ["tgtadm", "--control-port", str(self.control_port), *args]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=TGTADM_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise TgtError(f"tgtadm {' '.join(args)} failed: {exc}") from exc
        if result.returncode != 0:
            raise TgtError(f"tgtadm {' '.join(args)} failed: {(result.stderr or result.stdout).strip()}")
        return result.stdout

    def targets(self) -> list[tuple[int, str]]:
        """(tid, iqn) of every target tgtd holds."""
        shown = self.tgtadm("--lld", "iscsi", "--op", "show", "--mode", "target")
        return [(int(tid), iqn) for tid, iqn in _TARGET_LINE.findall(shown)]

    def accounts(self) -> set[str]:
        shown = self.tgtadm("--lld", "iscsi", "--op", "show", "--mode", "account")
        return {line.strip() for line in shown.splitlines()[1:] if line.strip()}


class Supervisor:
    """A thread that checks every `interval` seconds that tgtd answers, restarting it and calling
    `restore` (re-create the exports) when it did not."""

    def __init__(self, tgtd: Tgtd, restore: Callable[[], None], interval: float = 1.0) -> None:
        self._tgtd = tgtd
        self._restore = restore
        self._interval = interval
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.restarts = 0

    def start(self) -> None:
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, name="tgtd-supervisor", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        wait = self._interval
        while not self._stopped.wait(wait):
            try:
                if self._tgtd.ensure_running():
                    self.restarts += 1
                    self._restore()
                wait = self._interval
            except Exception:
                # A tgtd that cannot start (its port taken) is tried ever less often, not logged every second.
                wait = min(wait * 2, MAX_RETRY_INTERVAL)
                LOG.exception("supervising tgtd failed; trying again in %s s", wait)
