"""Metadata service: a guest's GET of meta_data.json through the metadata proxy, beside the same signed
request sent straight to the API (the floor: what the proxy adds is the ratio).

    .venv/bin/python bench/metadata.py [--requests 500]

One process: the API (build_api, SQLite) served by uvicorn on loopback, an instance with a key pair
and user data, a port holding 127.0.0.1 on a network, and the real proxy serving that network on
loopback, so the client's source address is the port's fixed IP. Requests alternate between the two
rows, sequential on keep-alive connections; p50 and p99 in milliseconds. The proxy's path is the
floor's plus a second HTTP hop and a ports-table lookup, so the target is on what it adds: p50 less than
10 ms above the floor.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overcast.api.assembly import build_api
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db.models.compute import Instance
from overcast.db.models.network import IPAllocation, Port
from overcast.metadata.signing import shared_secret, signed_headers
from overcast.network.api.service import NetworkAPI
from overcast.network.metadata import MetadataProxy

TARGET_OVERHEAD_MS = 10.0
PATH = "openstack/latest/meta_data.json"
ADMIN = RequestContext(user_id="bench", project_id="bench", roles=("admin", "member"), is_admin=True)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def instance_with_loopback_port(cloud: Cloud) -> tuple[str, str]:
    """(instance id, network id): the port's fixed IP is 127.0.0.1, the client's source on loopback."""
    with cloud.db.writer() as session:
        instance = Instance(display_name="bench", hostname="bench", project_id="bench", user_id="bench",
                            flavor_id="1", vcpus=1, memory_mb=512, root_gb=1, vm_state="active",
                            key_name="k", key_data="ssh-ed25519 AAAA bench",
                            user_data=base64.b64encode(b"#!/bin/sh\n").decode())  # fmt: skip
        session.add(instance)
    network = NetworkAPI(cloud).networks.create(ADMIN, {"name": "bench"})
    subnet = NetworkAPI(cloud).subnets.create(
        ADMIN, {"network_id": network["id"], "ip_version": 4, "cidr": "10.99.0.0/24", "enable_dhcp": False}
    )
    # The Networking API keeps addresses inside the subnet; the bench's port takes loopback's directly.
    with cloud.db.writer() as session:
        port = Port(id=str(uuid.uuid4()), network_id=network["id"], project_id="bench",
                    mac_address="fa:16:3e:00:00:01", device_id=instance.uuid,
                    device_owner="compute:nova")  # fmt: skip
        session.add(port)
        session.flush()
        session.add(IPAllocation(network_id=network["id"], ip_address="127.0.0.1", subnet_id=subnet["id"],
                                 port_id=port.id))  # fmt: skip
    return instance.uuid, network["id"]


def timings(client: httpx.Client, url: str, count: int, headers: dict[str, str] | None = None) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        answer = client.get(url, headers=headers)
        samples.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{url}: {answer.status_code} {answer.text}")
    return samples


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overcast-bench-metadata-") as folder:
        port = free_port()
        settings = load_settings(data_dir=Path(folder), listen=f"127.0.0.1:{port}", log_level="WARNING",
                                 transport_url=f"inproc://bench-{uuid.uuid4().hex}")  # fmt: skip
        cloud = Cloud.from_settings(settings)
        instance_id, network_id = instance_with_loopback_port(cloud)
        server = uvicorn.Server(uvicorn.Config(build_api(cloud), host="127.0.0.1", port=port,
                                               log_level="warning", lifespan="off"))  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        proxy = MetadataProxy.for_cloud(cloud, [network_id], None, address="127.0.0.1", port=0)
        proxy.start()
        try:
            headers = signed_headers(shared_secret(settings), instance_id, "bench")
            with httpx.Client(timeout=30) as client:
                timings(client, f"{settings.base_url}/metadata/{PATH}", 50, headers)  # warm-up
                timings(client, f"http://127.0.0.1:{proxy.bound_port}/{PATH}", 50)
                # Interleaved, so the machine's load (shared cores) weighs on both rows alike.
                direct, proxied = [], []
                for _ in range(args.requests):
                    direct += timings(client, f"{settings.base_url}/metadata/{PATH}", 1, headers)
                    proxied += timings(client, f"http://127.0.0.1:{proxy.bound_port}/{PATH}", 1)
        finally:
            proxy.stop()
            server.should_exit = True
            thread.join(10)
            cloud.close()
    floor = statistics.median(direct)
    print(f"{'GET ' + PATH:<48} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
    for name, samples in (("signed, straight to the API (floor)", direct), ("through the proxy", proxied)):
        print(f"{name:<48} {statistics.median(samples):8.2f} {p99(samples):8.2f} "
              f"{statistics.median(samples) / floor:7.2f}")  # fmt: skip
    overhead = statistics.median(proxied) - floor
    verdict = "met" if overhead < TARGET_OVERHEAD_MS else "NOT met"
    print(f"the proxy adds {overhead:.2f} ms at p50; target < {TARGET_OVERHEAD_MS:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
