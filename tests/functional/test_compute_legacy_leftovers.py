"""#16's last legacy compute APIs through real HTTP: a hypervisor's uptime (the compute host's own line),
per-user quotas, and the tenant-usage, backup rotation, image paging and crash-dump edges."""

from __future__ import annotations

import re
from pathlib import Path

from openstack.connection import Connection

from tests.support.cloud import InProcessCloud
from tests.support.compute_api import compute

UPTIME = re.compile(r"^ \d\d:\d\d:\d\d up .+,\s+\d+ users?,  load average: \d+\.\d\d, \d+\.\d\d, \d+\.\d\d$")


# --- os-hypervisors/{id}/uptime -------------------------------------------------------------------
def test_hypervisor_uptime_is_the_hosts_own(cloud: InProcessCloud, admin: Connection) -> None:
    listed = compute(admin, "GET", "/os-hypervisors").json()["hypervisors"]
    first = listed[0]
    answer = compute(admin, "GET", f"/os-hypervisors/{first['id']}/uptime").json()["hypervisor"]
    assert set(answer) == {"id", "hypervisor_hostname", "state", "status", "uptime"}
    assert UPTIME.match(answer["uptime"]), answer["uptime"]
    host_seconds = float(Path("/proc/uptime").read_text().split()[0])
    days = int(host_seconds // 86400)
    assert (f" up {days} day" in answer["uptime"]) == (days > 0)

    by_uuid = compute(admin, "GET", "/os-hypervisors", microversion="2.53").json()["hypervisors"][0]["id"]
    shown = compute(admin, "GET", f"/os-hypervisors/{by_uuid}", microversion="2.88").json()["hypervisor"]
    assert UPTIME.match(shown["uptime"])
    # The CLI splits the line into its parts (host_time, uptime, users, load_average).
    cli = cloud.openstack("hypervisor", "show", by_uuid, "-f", "json", user="overcast-admin")
    assert cli["users"].isdigit() and cli["load_average"].count(",") == 2
    assert re.fullmatch(r"\d\d:\d\d:\d\d", cli["host_time"])


def test_a_down_hosts_uptime(admin: Connection) -> None:
    listed = compute(admin, "GET", "/os-hypervisors", microversion="2.53").json()["hypervisors"]
    hypervisor = listed[-1]
    host = compute(admin, "GET", f"/os-hypervisors/{hypervisor['id']}", microversion="2.53").json()[
        "hypervisor"
    ]["service"]["host"]
    forced = {"host": host, "binary": "nova-compute", "forced_down": True}
    assert (
        compute(admin, "PUT", "/os-services/force-down", json=forced, microversion="2.11").status_code == 200
    )
    try:
        refused = compute(admin, "GET", f"/os-hypervisors/{hypervisor['id']}/uptime", microversion="2.53")
        assert refused.status_code == 400
        assert f"Compute service of {host} is unavailable" in refused.json()["badRequest"]["message"]
        shown = compute(admin, "GET", f"/os-hypervisors/{hypervisor['id']}", microversion="2.88")
        assert shown.json()["hypervisor"]["uptime"] is None
    finally:
        forced["forced_down"] = False
        compute(admin, "PUT", "/os-services/force-down", json=forced, microversion="2.11")
