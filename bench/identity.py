"""Identity benchmark: what token checking costs on top of HTTP, and an API under a login flood.

Part 1, the authenticated path: an API process (identity only, SQLite, bootstrapped, login limits
raised so the issue case measures argon2id, not the limits) on 127.0.0.1 in a child process, driven
from this one with a few client threads for a fixed time per case. The baseline is an unauthenticated
trivial endpoint (/healthcheck); the target is the token-checked trivial endpoint (/bench/whoami) at
0.8x its throughput or better. Beside each rate: the API process's CPU time per request, whose
ratio is the throughput ratio when the API (not the client threads on the same cores) is the limit.

Part 2, the login flood: a fresh API process serving the API service's whole app (identity, compute,
image) with the default identity settings; 40 clients (in their own process, each from its own loopback
address, a new user name every attempt: what gets past the rate limits, so the hash gate is what holds)
post logins for 20 s with the real 64 MiB argon2id cost, while this process samples the API's resident
memory and times an authenticated request every 20 ms.
Targets: peak RSS under 300 MiB, the authenticated request's p99 under 500 ms. The flood process runs
at the lowest CPU priority: an attacker's clients are not on the API's machine, and here they would
otherwise take CPU from the API that a real flood does not.

    .venv/bin/python bench/identity.py [--seconds 2] [--rounds 5] [--threads 4]
                                       [--flood-clients 40] [--flood-seconds 20]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
ADMIN_PASSWORD = "bench-admin-password"
TOKEN_CHECK_TARGET = 0.8
FLOOD_RSS_TARGET_MIB = 300.0
FLOOD_P99_TARGET_MS = 500.0
# The API's login limits for part 1, whose issue case logs the same user in as fast as it can.
ROOMY_LIMITS = {
    "OVERCAST_IDENTITY_LOGIN_BURST_PER_ADDRESS": "1000000",
    "OVERCAST_IDENTITY_LOGIN_BURST_PER_USER": "1000000",
}


def serve(data_dir: str, port: int, whole_api: bool) -> None:
    """The API process: identity alone, or the API service's whole app (`build_api`: identity, compute,
    image, on an in-process bus with no other services), with the bench's two trivial endpoints."""
    import uvicorn
    from fastapi import APIRouter, Depends
    from fastapi.responses import JSONResponse

    from overcast.api.app import create_app
    from overcast.api.assembly import build_api
    from overcast.api.deps import get_context
    from overcast.api.openstack.identity import install
    from overcast.cloud import Cloud
    from overcast.config import load_settings
    from overcast.context import RequestContext
    from overcast.identity.bootstrap import bootstrap
    from overcast.identity.service import IdentityService

    settings = load_settings(data_dir=Path(data_dir), listen=f"127.0.0.1:{port}")
    cloud = Cloud.from_settings(settings)
    bootstrap(settings, cloud.db, admin_password=ADMIN_PASSWORD)
    trivial = APIRouter()

    # Like /healthcheck, it hands FastAPI a finished response: the two differ by the token check alone.
    @trivial.get("/whoami")
    def whoami(context: RequestContext = Depends(get_context)) -> JSONResponse:
        return JSONResponse({"user_id": context.user_id})

    # As most of our handlers do, it returns a dict, which FastAPI checks against the annotation and
    # encodes: what that costs on top of the token check.
    @trivial.get("/whoami-dict")
    def whoami_dict(context: RequestContext = Depends(get_context)) -> dict[str, Any]:
        return {"user_id": context.user_id}

    if whole_api:
        app = build_api(cloud)
        app.include_router(trivial, prefix="/bench")
    else:
        app = create_app(settings, cloud.db, routers=[("/bench", trivial)])
        install(app, IdentityService(settings, cloud.db))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(base_url: str, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(base_url + "/healthcheck", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the API process did not come up")


@contextmanager
def api_process(env: dict[str, str], whole_api: bool = False) -> Iterator[tuple[str, int]]:
    """An API process on a fresh data directory: yields its base URL and pid."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="overcast-bench-") as data_dir:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", data_dir, str(port), "whole" if whole_api else "identity"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            env={**os.environ, **env},
        )
        try:
            wait_until_up(base_url)
            yield base_url, server.pid
        finally:
            server.terminate()
            server.wait(timeout=30)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def admin_auth(password: str = ADMIN_PASSWORD) -> dict[str, Any]:
    user = {"name": "admin", "domain": {"id": "default"}, "password": password}
    return {
        "auth": {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
        }
    }


def admin_token(base_url: str) -> str:
    response = httpx.post(base_url + "/identity/v3/auth/tokens?nocatalog", json=admin_auth(), timeout=60)
    response.raise_for_status()
    return response.headers["X-Subject-Token"]


def rate(
    request: Callable[[httpx.Client], httpx.Response], base_url: str, seconds: float, threads: int
) -> tuple[float, int]:
    """Requests per second over `seconds` with `threads` clients, and how many; all must succeed."""
    counts = [0] * threads
    stop_at = time.monotonic() + seconds

    def loop(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            while time.monotonic() < stop_at:
                response = request(client)
                if response.status_code >= 300 and response.status_code != 300:
                    raise RuntimeError(f"unexpected {response.status_code}: {response.text[:200]}")
                counts[index] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts) / (time.monotonic() - started), sum(counts)


def authenticated_path(seconds: float, threads: int, rounds: int) -> None:
    with api_process(ROOMY_LIMITS) as (base_url, pid):
        token = admin_token(base_url)
        headers = {"X-Auth-Token": token}
        validate = {**headers, "X-Subject-Token": token}
        cases: list[tuple[str, Callable[[httpx.Client], httpx.Response]]] = [
            ("GET /healthcheck (no auth, baseline)", lambda c: c.get("/healthcheck")),
            ("GET /bench/whoami (token checked)", lambda c: c.get("/bench/whoami", headers=headers)),
            (
                "GET /bench/whoami-dict (+ FastAPI's dict)",
                lambda c: c.get("/bench/whoami-dict", headers=headers),
            ),
            (
                "GET /v3/auth/tokens?nocatalog (validate)",
                lambda c: c.get("/identity/v3/auth/tokens?nocatalog", headers=validate),
            ),
            (
                "POST /v3/auth/tokens (issue, argon2id)",
                lambda c: c.post("/identity/v3/auth/tokens?nocatalog", json=admin_auth()),
            ),
        ]
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in cases}
        # The baseline and the token-checked case alternate, round after round, and each keeps its median
        # round: the machine's other load then weighs on both alike.
        schedule = [case for _ in range(rounds) for case in cases[:3]] + cases[3:]
        for name, call in schedule:
            # No more logins at once than the API hashes at once (a core each): more would only queue,
            # and wait past the gate's limit on a busy machine.
            clients = min(threads, os.cpu_count() or 1) if name.startswith("POST") else threads
            cpu_before = cpu_seconds(pid)
            per_second, count = rate(call, base_url, seconds, clients)
            samples[name].append((per_second, (cpu_seconds(pid) - cpu_before) / max(count, 1) * 1e6))
    results = [(name, *sorted(runs)[len(runs) // 2]) for name, runs in samples.items()]
    baseline = results[0][1]
    print(f"{'case':44} {'req/s':>10} {'vs baseline':>12} {'API CPU µs/req':>15}")
    for name, value, cpu_us in results:
        print(f"{name:44} {value:10.1f} {value / baseline:11.2f}x {cpu_us:15.0f}")
    ratio = results[1][1] / baseline
    verdict = "met" if ratio >= TOKEN_CHECK_TARGET else "NOT met"
    print(
        f"token-checked / unauthenticated (median of {rounds} alternating rounds): {ratio:.2f}x "
        f"(target >= {TOKEN_CHECK_TARGET:.2f}x, 0.69x before #12: {verdict})"
    )
    # The clients share this machine's cores with the API, so req/s depends on who is the bottleneck;
    # the API's CPU per request says what the ratio is when the API is.
    cpu_ratio = results[0][2] / results[1][2]
    verdict = "met" if cpu_ratio >= TOKEN_CHECK_TARGET else "NOT met"
    print(f"same, from the API's CPU per request: {cpu_ratio:.2f}x ({verdict})")


def flood(base_url: str, clients: int, seconds: float) -> None:
    """Run by the flood child process: `clients` threads posting logins; prints status counts as JSON."""
    os.nice(19)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def loop(index: int) -> None:
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + index}")
        with httpx.Client(base_url=base_url, transport=transport, timeout=60) as client:
            while time.monotonic() < stop_at:
                user = {"name": f"flood-{secrets.token_hex(6)}", "domain": {"id": "default"}, "password": "x"}
                body = {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}
                try:
                    status = client.post("/identity/v3/auth/tokens", json=body).status_code
                except httpx.HTTPError:
                    status = 0
                with lock:
                    statuses[status] += 1

    workers = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    print(json.dumps({str(status): count for status, count in sorted(statuses.items())}))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def login_flood(clients: int, seconds: float) -> None:
    with api_process({}, whole_api=True) as (base_url, pid):
        token = admin_token(base_url)
        headers = {"X-Auth-Token": token}
        with httpx.Client(base_url=base_url, timeout=60) as probe:
            for _ in range(50):  # warm up the path before measuring it
                probe.get("/bench/whoami", headers=headers).raise_for_status()
        rss_before = rss_mib(pid)
        peak = [rss_before]
        latencies_ms: list[float] = []
        failures: Counter[int] = Counter()
        flooding = subprocess.Popen(
            [sys.executable, __file__, "--flood", base_url, str(clients), str(seconds)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )

        def sample_memory() -> None:
            while flooding.poll() is None:
                peak[0] = max(peak[0], rss_mib(pid))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample_memory)
        sampler.start()
        with httpx.Client(base_url=base_url, timeout=60) as probe:
            while flooding.poll() is None:
                started = time.perf_counter()
                response = probe.get("/bench/whoami", headers=headers)
                latencies_ms.append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    failures[response.status_code] += 1
                time.sleep(0.02)
        sampler.join()
        statuses = json.loads((flooding.stdout.read() if flooding.stdout else "") or "{}")
    p50, p99 = percentile(latencies_ms, 0.50), percentile(latencies_ms, 0.99)
    print()
    print(
        f"login flood: {clients} clients for {seconds:.0f} s against the whole API app, default identity "
        "settings, 64 MiB argon2id"
    )
    print(f"{'measure':44} {'value':>10} {'target':>12}")
    rss_verdict = "met" if peak[0] < FLOOD_RSS_TARGET_MIB else "NOT met"
    print(f"{'API RSS before the flood (MiB)':44} {rss_before:10.0f}")
    print(f"{'API RSS peak during the flood (MiB)':44} {peak[0]:10.0f} {'< 300':>12}  {rss_verdict}")
    print(f"{'authenticated GET p50 during the flood (ms)':44} {p50:10.1f}")
    p99_verdict = "met" if p99 < FLOOD_P99_TARGET_MS else "NOT met"
    print(f"{'authenticated GET p99 during the flood (ms)':44} {p99:10.1f} {'< 500':>12}  {p99_verdict}")
    print(f"{'authenticated GETs during the flood':44} {len(latencies_ms):10d}")
    failed_verdict = "met" if not failures else "NOT met"
    print(f"{'authenticated GETs that failed':44} {sum(failures.values()):10d} {'0':>12}  {failed_verdict}")
    answers = ", ".join(f"{status}: {count}" for status, count in statuses.items())
    print(f"flood answers by status: {answers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per case and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--flood-clients", type=int, default=40)
    parser.add_argument("--flood-seconds", type=float, default=20.0)
    args = parser.parse_args()
    authenticated_path(args.seconds, args.threads, args.rounds)
    login_flood(args.flood_clients, args.flood_seconds)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        sys.path.insert(0, str(ROOT))
        serve(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "whole")
    elif len(sys.argv) == 5 and sys.argv[1] == "--flood":
        flood(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    else:
        main()
