"""Identity benchmark: token validations/s and authenticated requests/s through HTTP, and token issues/s.

Starts an API process (identity only, SQLite, bootstrapped) on 127.0.0.1 in a child process, then drives
it from this one with a few client threads for a fixed time per case. The baseline is an unauthenticated
trivial endpoint (/healthcheck): the ratio shows what token checking costs on top of HTTP itself.

    .venv/bin/python bench/identity.py [--seconds 5] [--threads 4]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def serve(data_dir: str, port: int) -> None:
    import uvicorn
    from fastapi import APIRouter, Depends

    from overcast.api.app import create_app
    from overcast.api.deps import get_context
    from overcast.api.openstack.identity import install
    from overcast.config import load_settings
    from overcast.context import RequestContext
    from overcast.db import Database
    from overcast.identity.bootstrap import bootstrap

    settings = load_settings(data_dir=Path(data_dir), listen=f"127.0.0.1:{port}")
    db = Database(settings.sql_url)
    db.upgrade()
    bootstrap(settings, db, admin_password="bench-admin-password")
    trivial = APIRouter()

    @trivial.get("/whoami")
    def whoami(context: RequestContext = Depends(get_context)) -> dict[str, Any]:
        return {"user_id": context.user_id}

    app = create_app(settings, db, routers=[("/bench", trivial)])
    install(app, settings, db)
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


def rate(
    request: Callable[[httpx.Client], httpx.Response], base_url: str, seconds: float, threads: int
) -> float:
    """Requests per second over `seconds` with `threads` clients; every response must be a success."""
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
    return sum(counts) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="overcast-bench-") as data_dir:
        server = subprocess.Popen(
            [sys.executable, __file__, "--serve", data_dir, str(port)], cwd=ROOT, stdout=subprocess.DEVNULL
        )
        try:
            wait_until_up(base_url)
            auth = {
                "auth": {
                    "identity": {
                        "methods": ["password"],
                        "password": {
                            "user": {
                                "name": "admin",
                                "domain": {"id": "default"},
                                "password": "bench-admin-password",
                            }
                        },
                    },
                    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}},
                }
            }
            token = httpx.post(base_url + "/identity/v3/auth/tokens", json=auth).headers["X-Subject-Token"]
            headers = {"X-Auth-Token": token}
            validate = {**headers, "X-Subject-Token": token}
            cases: list[tuple[str, Callable[[httpx.Client], httpx.Response]]] = [
                ("GET /healthcheck (no auth, baseline)", lambda c: c.get("/healthcheck")),
                ("GET /bench/whoami (token checked)", lambda c: c.get("/bench/whoami", headers=headers)),
                (
                    "GET /v3/auth/tokens?nocatalog (validate)",
                    lambda c: c.get("/identity/v3/auth/tokens?nocatalog", headers=validate),
                ),
                (
                    "POST /v3/auth/tokens (issue, argon2id)",
                    lambda c: c.post("/identity/v3/auth/tokens?nocatalog", json=auth),
                ),
            ]
            results = [(name, rate(call, base_url, args.seconds, args.threads)) for name, call in cases]
        finally:
            server.terminate()
            server.wait(timeout=30)
    baseline = results[0][1]
    print(f"{'case':44} {'req/s':>10} {'vs baseline':>12}")
    for name, value in results:
        print(f"{name:44} {value:10.1f} {value / baseline:11.2f}x")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--serve":
        sys.path.insert(0, str(ROOT))
        serve(sys.argv[2], int(sys.argv[3]))
    else:
        main()
