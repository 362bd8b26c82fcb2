"""Dashboard: the instance list page of a project with 1,000 servers, beside the servers/detail call it makes.

    .venv/bin/python bench/dashboard.py [--servers 1000] [--requests 200]

One process: the whole cloud in-process (tests/support's, fake hypervisors), the API with the dashboard
mounted served by uvicorn on loopback; the project is filled with servers by direct inserts. A logged-in
browser session asks for /dashboard/project/instances/ (one page of 20, rendered on the server); the floor
is the page's own API call, GET /compute/v2.1/servers/detail in the page's order with one row more than the
page (which tells whether a next page exists), at the dashboard's microversion, sent straight to the API with
the same token. Requests alternate between the rows on keep-alive connections;
p50 and p99 in milliseconds. Target (#19): the page at most 1.5 times its API call at p50.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from overcast.cli.runner import settle_heap
from overcast.compute import states
from overcast.dashboard.client import COMPUTE_VERSION
from overcast.dashboard.pages.instances import PAGE_SIZE, SERVER_ORDER
from overcast.db.base import utcnow
from overcast.db.models.compute import Instance
from overcast.quota import UNLIMITED, QuotaEngine
from tests.support.cloud import IMAGE_ID, InProcessCloud

TARGET_RATIO = 1.5


def fill(cloud: InProcessCloud, project_id: str, servers: int) -> None:
    """`servers` live instances in the project (booting them would add nothing to what is measured)."""
    with cloud.cloud.db.writer() as session:
        QuotaEngine().set_limits(
            session, project_id, {"instances": UNLIMITED, "cores": UNLIMITED, "ram": UNLIMITED}
        )
        have = session.scalar(
            select(func.count()).select_from(Instance).where(Instance.project_id == project_id)
        )
        now = utcnow()
        for index in range(max(0, servers - (have or 0))):
            session.add(
                Instance(
                    display_name=f"web-{index:04d}",
                    hostname=f"web-{index:04d}",
                    project_id=project_id,
                    user_id="bench",
                    image_ref=IMAGE_ID,
                    flavor_id="1",
                    vcpus=1,
                    memory_mb=512,
                    root_gb=1,
                    vm_state=states.ACTIVE,
                    task_state=None,
                    power_state=1,
                    host="compute-1",
                    node="compute-1",
                    launched_at=now,
                    key_name="bench",
                    metadata_items={"role": "web"},
                    security_groups=["default"],
                )
            )


def log_in(cloud: InProcessCloud) -> httpx.Client:
    browser = httpx.Client(base_url=f"{cloud.base_url}/dashboard", timeout=60)
    page = browser.get("/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf is not None
    form = {
        "csrf_token": csrf[1],
        "domain": "Default",
        "username": "demo",
        "password": cloud.password("demo"),
    }
    if browser.post("/login", data=form).status_code != 303:
        raise SystemExit("the dashboard log-in failed")
    return browser


def timed(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    response = client.get(url, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise SystemExit(f"{url}: {response.status_code} {response.text[:300]}")
    return elapsed


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--servers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="overcast-bench-dashboard-") as folder:
        cloud = InProcessCloud(Path(folder))
        try:
            demo = cloud.connect("demo")
            project_id = demo.current_project_id
            fill(cloud, project_id, args.servers)
            settle_heap()  # as `overcast service api` does before it serves
            headers = {"X-Auth-Token": demo.auth_token, "OpenStack-API-Version": COMPUTE_VERSION}
            call = urlencode({**SERVER_ORDER.forward, "limit": PAGE_SIZE + 1})
            detail = f"{cloud.base_url}/compute/v2.1/servers/detail?{call}"
            page = "/project/instances/"
            browser = log_in(cloud)
            api = httpx.Client(timeout=60)
            try:
                for _ in range(20):  # warm-up: templates compiled, caches filled
                    timed(api, detail, headers)
                    timed(browser, page)
                api_ms: list[float] = []
                page_ms: list[float] = []
                # Interleaved, so the machine's load (shared cores) weighs on both rows alike.
                for _ in range(args.requests):
                    api_ms.append(timed(api, detail, headers))
                    page_ms.append(timed(browser, page))
            finally:
                api.close()
                browser.close()
        finally:
            cloud.stop()
    floor = statistics.median(api_ms)
    print(
        f"{f'{args.servers:,} servers, a page of {PAGE_SIZE}':<52} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}"
    )
    for name, samples in (
        (f"GET servers/detail?limit={PAGE_SIZE + 1} (the page's call)", api_ms),
        ("GET /dashboard/project/instances/ (rendered)", page_ms),
    ):
        print(
            f"{name:<52} {statistics.median(samples):8.2f} {p99(samples):8.2f} "
            f"{statistics.median(samples) / floor:7.2f}"
        )
    ratio = statistics.median(page_ms) / floor
    verdict = "met" if ratio <= TARGET_RATIO else "NOT met"
    print(f"the page costs {ratio:.2f}x its API call at p50; target <= {TARGET_RATIO}: {verdict}")


if __name__ == "__main__":
    main()
