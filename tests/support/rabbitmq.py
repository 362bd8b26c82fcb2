"""A local RabbitMQ broker for tests and benchmarks: installed, started and reused on 127.0.0.1:5672, and
stopped again by whoever started it (`running_rabbitmq`)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

HOST, PORT = "127.0.0.1", 5672
URL = f"rabbit://guest:guest@{HOST}:{PORT}//"
_START_TIMEOUT = 90.0


class RabbitMQUnavailable(RuntimeError):
    pass


def port_open(host: str = HOST, port: int = PORT) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _broker_env() -> dict[str, str]:
    # Every listener of the broker (AMQP, Erlang distribution, epmd) binds to loopback only.
    return {
        **os.environ,
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(PORT),
        "ERL_EPMD_ADDRESS": HOST,
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


def _install() -> None:
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise RabbitMQUnavailable(
            "rabbitmq-server is not installed and cannot be installed here (needs root apt)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    result = subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", "rabbitmq-server"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise RabbitMQUnavailable(f"apt-get install rabbitmq-server failed: {result.stderr[-2000:]}")


def ensure_rabbitmq() -> str:
    """Return the URL of a running local broker, installing and starting rabbitmq-server if needed."""
    if port_open():
        return URL
    _start()
    return URL


@contextmanager
def running_rabbitmq() -> Iterator[str]:
    """The URL of a local broker for the block: one already running is reused and left running; one this
    block starts is stopped (with its epmd) when the block ends, so no broker outlives the test run."""
    if port_open():
        yield URL
        return
    _start()
    try:
        yield URL
    finally:
        _stop()


def _start() -> None:
    if shutil.which("rabbitmq-server") is None:
        _install()
    subprocess.run(
        ["rabbitmq-server", "-detached"], env=_broker_env(), cwd="/", capture_output=True, check=False
    )
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if port_open():
            return
        time.sleep(0.25)
    raise RabbitMQUnavailable(
        f"rabbitmq-server did not listen on {HOST}:{PORT} within {_START_TIMEOUT:.0f} s"
    )


def _stop() -> None:
    subprocess.run(["rabbitmqctl", "stop"], env=_broker_env(), cwd="/", capture_output=True, check=False)
    # The broker's epmd (Erlang's port mapper) stays behind on its own; nothing else here uses Erlang.
    subprocess.run(["epmd", "-kill"], env=_broker_env(), capture_output=True, check=False)
