"""The README's scale-out recipe: every service its own process, on RabbitMQ and PostgreSQL.

API, conductor, scheduler and two compute hosts run as separate `overcast service …` processes; a real
client boots a server through them, and SIGTERM stops each process gracefully.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import openstack
import pytest
from sqlalchemy import create_engine, text

from tests.support.all_in_one import OVERCAST
from tests.support.ports import free_port
from tests.support.waiting import WAIT_SECONDS

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgresql, pytest.mark.slow]

COMPUTE = "overcast-compute"


@pytest.fixture
def rabbit_vhost_url(rabbitmq_url: str) -> Iterator[str]:
    """A vhost of our own, so queues left by other tests cannot feed this cloud."""
    vhost = f"overcast-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)  # fmt: skip
    scheme, rest = rabbitmq_url.split("://", 1)
    yield f"{scheme}://{rest.split('/', 1)[0]}/{vhost}"
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)


class Processes:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[tuple[str, subprocess.Popen[str]]] = []

    def start(self, *args: str, ready: str) -> subprocess.Popen[str]:
        process = subprocess.Popen([*OVERCAST, *args], env=self.env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
        self.running.append((" ".join(args), process))
        assert process.stdout is not None
        seen = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                raise AssertionError(f"{args} exited early:\n{''.join(seen)}")
            seen.append(line)
            if ready in line:
                return process
        raise AssertionError(f"{args} never became ready:\n{''.join(seen)}")

    def stop_all(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for name, process in reversed(self.running):
            process.send_signal(signal.SIGTERM)
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                codes[name] = None
            if process.stdout is not None:
                process.stdout.close()
        self.running.clear()
        return codes


def test_services_in_separate_processes_boot_a_server(
    tmp_path: Path, postgres_db_url: str, rabbit_vhost_url: str
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "OVERCAST_CONFIG": str(tmp_path / "none.toml"),
        "OVERCAST_DATA_DIR": str(tmp_path / "data"),
        "OVERCAST_DATABASE_URL": postgres_db_url,
        "OVERCAST_TRANSPORT_URL": rabbit_vhost_url,
        "OVERCAST_LISTEN": f"127.0.0.1:{port}",
        "OVERCAST_REPORT_INTERVAL": "1",
        # The seeded image has no data here: the fake driver boots it (test_vm_lifecycle boots QEMU).
        "OVERCAST_COMPUTE_DRIVER": "fake",
        # No periodic refresh within the test: the scheduler learns of hosts and changes from notices.
        "OVERCAST_SCHEDULER__HOST_STATE_REFRESH_INTERVAL": "3600",
    }
    subprocess.run([*OVERCAST, "db", "upgrade"], env=env, check=True, capture_output=True)
    processes = Processes(env)
    try:
        processes.start("service", "api", ready="listening on")
        processes.start("service", "conductor", "--host", "controller", ready="running on host")
        processes.start("service", "scheduler", "--host", "controller", ready="running on host")
        processes.start("service", "compute", "--host", "compute-1", ready="running on host")
        processes.start("service", "compute", "--host", "compute-2", ready="running on host")

        health = httpx.get(
            f"http://127.0.0.1:{port}/healthcheck",
            headers={"Accept": "application/json"},
            timeout=WAIT_SECONDS,
        )
        up = {(s["binary"], s["host"]) for s in health.json()["services"] if s["up"]}
        assert up >= {("overcast-conductor", "controller"), ("overcast-scheduler", "controller"),
                      ("overcast-compute", "compute-1"), ("overcast-compute", "compute-2")}  # fmt: skip

        engine = create_engine(postgres_db_url)
        with engine.connect() as connection:
            image_id = connection.execute(text("SELECT id FROM images WHERE name = 'overcast-tiny'")).scalar()
        engine.dispose()

        conn = openstack.connect(load_yaml_config=False, **_admin_auth(tmp_path / "data" / "clouds.yaml"))
        servers = [
            conn.compute.create_server(name=f"mp-{n}", image_id=image_id, flavor_id="1", networks="none")
            for n in range(2)
        ]
        hosts = set()
        for server in servers:
            try:
                active = conn.compute.wait_for_server(server, status="ACTIVE", wait=60, interval=0.5)
            except openstack.exceptions.ResourceFailure:
                raise AssertionError(f"build failed: {conn.compute.get_server(server.id).fault}") from None
            hosts.add(conn.compute.get_server(active.id).compute_host)
        assert hosts <= {"compute-1", "compute-2"}
        # A disabled host reaches the scheduler process at once, over RabbitMQ's fanout.
        services = conn.compute.services()
        compute_1 = next(s for s in services if (s.host, s.binary) == ("compute-1", "nova-compute"))
        conn.compute.disable_service(compute_1)
        later = [
            conn.compute.create_server(name=f"late-{n}", image_id=image_id, flavor_id="1", networks="none")
            for n in range(2)
        ]
        for server in later:
            active = conn.compute.wait_for_server(server, status="ACTIVE", failures=["ERROR"], wait=60)
            assert conn.compute.get_server(active.id).compute_host == "compute-2"
        servers += later
        for server in servers:
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, wait=60, interval=0.5)
    finally:
        codes = processes.stop_all()
    assert all(code == 0 for code in codes.values()), codes


def _admin_auth(clouds_yaml: Path) -> dict[str, object]:
    import yaml

    entry = yaml.safe_load(clouds_yaml.read_text())["clouds"]["overcast-admin"]
    return {"auth": entry["auth"], "region_name": entry.get("region_name"),
            "identity_api_version": "3", "interface": "public"}  # fmt: skip
