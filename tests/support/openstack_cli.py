"""The real `openstack` CLI for tests, started once per test process and forked for every command.

A fresh `openstack` process spends about a second of CPU importing the client and its command plugins
before it reads its arguments, and the functional tests run it hundreds of times. Here one server process
(this module run with `-m`) imports python-openstackclient and loads every command plugin once; each
command is a fork of it that sets the caller's environment, working directory and argv, then runs
`openstackclient.shell.main` exactly as the `openstack` console script does, with stdout and stderr in files
the caller reads back. A command that runs past its timeout is killed, as `subprocess.run` would.
"""

from __future__ import annotations

import atexit
import importlib.metadata
import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

OPENSTACK = Path(sys.executable).with_name("openstack")
REPOSITORY = Path(__file__).resolve().parents[2]
# Plugin groups the CLI loads at start or for a command: loading them in the server is what is saved.
_PLUGIN_GROUP_PREFIXES = ("openstack.", "keystoneauth1.", "cliff.")


def run_openstack(
    args: Sequence[str], env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`openstack *args` with exactly `env` as its environment, like `subprocess.run(capture_output=True,
    text=True)`; raises subprocess.TimeoutExpired after `timeout` seconds."""
    return _server().run([str(OPENSTACK), *args], dict(env), timeout)


class _Server:
    def __init__(self) -> None:
        self._home = tempfile.TemporaryDirectory(prefix="openstack-cli-")
        # Its own HOME: what the client caches at import (stevedore's entry-point cache) stays private.
        env = {**os.environ, "HOME": self._home.name, "PYTHONPATH": str(REPOSITORY)}
        self._process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.openstack_cli"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=REPOSITORY,
            env=env,
            text=True,
        )
        self._lock = threading.Lock()

    def run(self, argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
        assert self._process.stdin is not None and self._process.stdout is not None
        with self._lock, tempfile.TemporaryDirectory(prefix="openstack-run-") as folder:
            stdout, stderr = Path(folder, "stdout"), Path(folder, "stderr")
            request = {
                "argv": argv, "env": env, "cwd": os.getcwd(), "timeout": timeout,
                "stdout": str(stdout), "stderr": str(stderr),
            }  # fmt: skip
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
            if not line:
                raise RuntimeError(f"the openstack CLI server exited ({self._process.wait()})")
            reply = json.loads(line)
            if reply["timed_out"]:
                raise subprocess.TimeoutExpired(argv, timeout, stdout.read_bytes(), stderr.read_bytes())
            return subprocess.CompletedProcess(
                argv, reply["returncode"], stdout.read_text(), stderr.read_text()
            )

    def stop(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()  # end of requests: the server exits
        try:
            self._process.wait(timeout=30)
        finally:
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._home.cleanup()


_server_lock = threading.Lock()
_running: _Server | None = None


def _server() -> _Server:
    global _running
    with _server_lock:
        if _running is None or _running._process.poll() is not None:
            _running = _Server()
            atexit.register(_running.stop)
        return _running


def _serve() -> None:
    """The server: load the client once, then fork one child per request line on stdin."""
    sys.argv = [str(OPENSTACK)]  # what the client's modules see of their program name at import
    from openstackclient import shell

    entry_points = importlib.metadata.entry_points()
    for group in entry_points.groups:
        if group.startswith(_PLUGIN_GROUP_PREFIXES):
            for entry_point in entry_points.select(group=group):
                try:
                    entry_point.load()
                except Exception:  # a plugin the CLI could not load either; the command will say so
                    continue
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            _run_command(shell.main, request)
        returncode, timed_out = _wait(pid, request["timeout"])
        print(json.dumps({"returncode": returncode, "timed_out": timed_out}), flush=True)


def _wait(pid: int, timeout: float) -> tuple[int, bool]:
    """The command's exit code (negative for a signal, as subprocess has it); killed after `timeout`."""
    pidfd = os.pidfd_open(pid)
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        if not ready:
            os.killpg(pid, signal.SIGKILL)  # the command and whatever it started
    finally:
        os.close(pidfd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), not ready


def _run_command(main: Any, request: dict[str, Any]) -> None:
    """In the forked child: become `openstack argv...` and exit with its status; never returns."""
    code = 1
    try:
        os.setpgrp()  # its own process group, which a timeout kills whole
        sys.stdin = open(os.devnull)  # noqa: SIM115 (for the child's life: not the server's buffered requests)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        for fd, path, flags in (
            (0, os.devnull, os.O_RDONLY),
            (1, request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
            (2, request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC),
        ):
            target = os.open(path, flags, 0o600)
            os.dup2(target, fd)
            os.close(target)
        sys.argv = list(request["argv"])
        try:
            code = main(sys.argv[1:])
        except SystemExit as exit_:  # what the interpreter does with it
            if exit_.code is None or isinstance(exit_.code, int):
                code = exit_.code or 0
            else:
                print(exit_.code, file=sys.stderr)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code or 0)


if __name__ == "__main__":
    _serve()
