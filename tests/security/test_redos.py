"""ReDoS in GET /servers filters (issue #12, defect 3).

Nova's name filter (and the admins' other regex filters, and ip/ip6) are regular expressions any member
sends. Run by a backtracking engine, `^(a+)+$` over a name of 28 "a"s and a "-" takes 2^28 steps per
server (minutes for ten servers) while holding the GIL, so even /healthcheck stopped answering. The
filters must be matched in linear time; what RE2 cannot run (backreferences) is a 400.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openstack.connection import Connection

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.compute.api.server_queries import compiled_filter
from overcast.compute.api.servers import ServerCreate, ServerFilters
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db import Database
from tests.support.cloud import IMAGE_ID, TINY, InProcessCloud
from tests.support.compute_service import compute_service

# Ten servers (the default instance quota) named "aaaa…a-1" to "aaaa…a-10".
EVIL_NAME = "a" * 28
EVIL_PATTERN = "^(a+)+$"
# A backtracking engine needs minutes here; a linear one needs milliseconds: 20 s tells them apart even on
# CI's loaded machine under coverage, where a list or a healthcheck can take a few seconds.
LIST_BUDGET = 20.0


def get(conn: Connection, path: str) -> Any:
    return conn.compute.get(path, microversion="2.62")


@pytest.fixture(scope="module")
def evil_servers(demo: Connection) -> Iterator[list[Any]]:
    demo.compute.create_server(
        name=EVIL_NAME, image_id=IMAGE_ID, flavor_id=TINY, networks="none", min_count=10, max_count=10
    )
    deadline = time.monotonic() + 60
    while True:
        servers = list(demo.compute.servers())
        if len(servers) == 10 and all(server.status == "ACTIVE" for server in servers):
            break
        assert time.monotonic() < deadline, [(server.name, server.status) for server in servers]
        time.sleep(0.1)
    yield servers
    for server in servers:
        demo.compute.delete_server(server)


def test_a_catastrophic_pattern_lists_in_linear_time_and_blocks_nobody(
    cloud: InProcessCloud, demo: Connection, evil_servers: list[Any]
) -> None:
    outcome: dict[str, Any] = {}

    def evil_list() -> None:
        started = time.monotonic()
        outcome["response"] = get(demo, f"/servers?name={EVIL_PATTERN.replace('+', '%2B')}")
        outcome["elapsed"] = time.monotonic() - started

    lister = threading.Thread(target=evil_list)
    lister.start()
    try:
        started = time.monotonic()
        health = httpx.get(f"{cloud.base_url}/healthcheck", timeout=LIST_BUDGET)
        health_elapsed = time.monotonic() - started
    finally:
        lister.join()
    assert health.status_code == 200 and health_elapsed < LIST_BUDGET
    assert outcome["response"].status_code == 200, outcome["response"].text
    assert outcome["response"].json()["servers"] == []
    assert outcome["elapsed"] < LIST_BUDGET, f"the list took {outcome['elapsed']:.1f} s"


def test_the_name_filter_is_still_novas_search(demo: Connection, evil_servers: list[Any]) -> None:
    def names(query: str) -> list[str]:
        response = get(demo, f"/servers?{query}")
        assert response.status_code == 200, response.text
        return sorted(server["name"] for server in response.json()["servers"])

    # A search, not a match: the pattern may be found anywhere in the name.
    assert len(names("name=a-1")) == 2  # "…a-1" and "…a-10"
    assert names("name=a-10$") == [f"{EVIL_NAME}-10"]
    assert len(names("name=^(a%2B)%2B-")) == 10
    assert names("name=(?i)A{28}-7") == [f"{EVIL_NAME}-7"]
    assert names("name=^b") == []


@pytest.mark.parametrize("query", ["name=(a)\\1", "name=(?=a)a", "ip=(1)\\1", "name=" + "a" * 1025])
def test_patterns_a_linear_engine_cannot_run_are_a_400(demo: Connection, query: str) -> None:
    response = get(demo, f"/servers?{query}")
    assert response.status_code == 400, response.text
    assert "regular expression" in response.json()["badRequest"]["message"]


@pytest.mark.postgresql
def test_on_postgresql_no_pattern_reaches_the_databases_regex_engine(
    postgres_db_url: str, tmp_path: Path
) -> None:
    """Nova hands the pattern to the database's regex operator; ours never does, on either database, so
    PostgreSQL's engine (which runs backreferences, and with them exponential time) is out of reach."""
    db = Database(postgres_db_url)
    db.upgrade()
    transport = get_transport(f"inproc://redos-{uuid.uuid4().hex}")
    try:
        cloud = Cloud(settings=load_settings(data_dir=tmp_path), db=db, transport=transport)
        servers = compute_service(cloud)
        member = RequestContext(user_id="u1", project_id="p1", roles=("member", "reader"))
        create = ServerCreate(name=EVIL_NAME, image_ref=IMAGE_ID, flavor_ref=TINY, min_count=10, max_count=10)
        servers.servers.create(member, create)

        def names(pattern: str) -> list[str]:
            found = servers.servers.list(member, ServerFilters(regex={"name": pattern}))
            return sorted(server.instance.display_name for server in found)

        started = time.monotonic()
        assert names(EVIL_PATTERN) == []
        assert time.monotonic() - started < LIST_BUDGET
        assert names("a-10$") == [f"{EVIL_NAME}-10"]
        with pytest.raises(errors.BadRequest, match="regular expression"):
            names("^(a*)*\\1$")
    finally:
        transport.close()
        db.dispose()


def test_a_pattern_re2_cannot_encode_is_a_400_too() -> None:
    # URLs cannot carry a lone surrogate (unquote replaces it), but the filter may be given one otherwise.
    with pytest.raises(errors.BadRequest, match="regular expression"):
        compiled_filter("name", "\ud800")
