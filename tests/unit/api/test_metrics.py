"""/metrics: request counters by route template, RPC timings, and service liveness from the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from overcast.api.app import create_app
from overcast.api.middleware import RouteTemplates, iter_route_contexts
from overcast.config import Settings
from overcast.db import Database
from overcast.db.models.service import ServiceRecord
from overcast.metrics import REGISTRY, UNMATCHED_ROUTE, observe_rpc_call

SERVER_ROUTE = "/compute/v2.1/servers/{server_id}"


def _compute_router() -> APIRouter:
    versioned = APIRouter()

    @versioned.get("/servers/{server_id}")
    def show_server(server_id: str) -> dict[str, str]:
        return {"id": server_id}

    # Nested inclusion, as the compute router will do: the template must still be the full path.
    router = APIRouter()
    router.include_router(versioned, prefix="/v2.1")
    return router


def _scrape(client: TestClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def _requests_total(method: str, route: str, status: str) -> float:
    labels = {"method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("overcast_http_requests_total", labels) or 0.0


def test_request_counter_uses_route_templates_not_raw_paths() -> None:
    client = TestClient(create_app(Settings(), routers=[("/compute", _compute_router())]))
    before_ok = _requests_total("GET", SERVER_ROUTE, "200")
    before_unmatched = _requests_total("GET", UNMATCHED_ROUTE, "404")

    for server_id in ("a", "b", "c"):
        assert client.get(f"/compute/v2.1/servers/{server_id}").status_code == 200
    assert client.get("/compute/v2.1/flavors/unknown").status_code == 404

    samples = _scrape(client)
    ok_labels = frozenset({"method": "GET", "route": SERVER_ROUTE, "status": "200"}.items())
    unmatched_labels = frozenset({"method": "GET", "route": UNMATCHED_ROUTE, "status": "404"}.items())
    assert samples[("overcast_http_requests_total", ok_labels)] == before_ok + 3
    assert samples[("overcast_http_requests_total", unmatched_labels)] == before_unmatched + 1
    raw_paths = [labels for (name, labels) in samples if ("route", "/compute/v2.1/servers/a") in labels]
    assert raw_paths == []
    duration_count = (
        "overcast_http_request_duration_seconds_count",
        frozenset({"method": "GET", "route": SERVER_ROUTE}.items()),
    )
    assert samples[duration_count] >= 3


def test_unknown_methods_share_one_label() -> None:
    client = TestClient(create_app(Settings(), routers=[("/compute", _compute_router())]))
    before = _requests_total("OTHER", SERVER_ROUTE, "405")
    assert client.request("BREW", "/compute/v2.1/servers/a").status_code == 405
    assert _requests_total("OTHER", SERVER_ROUTE, "405") == before + 1


def test_rpc_call_durations_are_exposed() -> None:
    client = TestClient(create_app(Settings()))
    labels = {"topic": "scheduler", "method": "select_destinations"}
    before = REGISTRY.get_sample_value("overcast_rpc_call_duration_seconds_count", labels) or 0.0
    observe_rpc_call("scheduler", "select_destinations", 0.2)
    observe_rpc_call("scheduler", "select_destinations", 0.4)
    samples = _scrape(client)
    assert samples[("overcast_rpc_call_duration_seconds_count", frozenset(labels.items()))] == before + 2
    bucket = frozenset({**labels, "le": "0.25"}.items())
    assert samples[("overcast_rpc_call_duration_seconds_bucket", bucket)] >= 1


def test_two_apps_in_one_process_both_serve_metrics() -> None:
    first = TestClient(create_app(Settings()))
    second = TestClient(create_app(Settings()))
    assert first.get("/metrics").status_code == 200
    assert second.get("/metrics").status_code == 200


def _add_service(
    db: Database, host: str, binary: str, last_seen_up: datetime | None, forced_down: bool
) -> None:
    with db.writer() as session:
        session.add(
            ServiceRecord(
                host=host,
                binary=binary,
                topic=binary.removeprefix("overcast-"),
                last_seen_up=last_seen_up,
                forced_down=forced_down,
            )
        )


def test_service_up_gauge_is_read_from_the_database_at_scrape_time(db: Database) -> None:
    settings = Settings(service_down_time=60)
    app = create_app(settings, db=db)
    now = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    app.state.clock = lambda: now
    _add_service(db, "node1", "overcast-compute", now - timedelta(seconds=5), forced_down=False)
    _add_service(db, "node2", "overcast-compute", now - timedelta(seconds=600), forced_down=False)
    _add_service(db, "node3", "overcast-compute", now, forced_down=True)
    client = TestClient(app)

    def service_up(host: str) -> float:
        key = ("overcast_service_up", frozenset({"binary": "overcast-compute", "host": host}.items()))
        return _scrape(client)[key]

    assert (service_up("node1"), service_up("node2"), service_up("node3")) == (1.0, 0.0, 0.0)
    # Time moves on and node1 stops reporting; the next scrape sees it without restarting anything.
    app.state.clock = lambda: now + timedelta(seconds=120)
    assert service_up("node1") == 0.0


def test_without_a_database_there_is_no_service_gauge() -> None:
    samples = _scrape(TestClient(create_app(Settings())))
    assert not [name for (name, _) in samples if name == "overcast_service_up"]


def test_requests_to_a_mounted_app_and_to_its_parent_in_turn_do_not_rebuild_route_tables() -> None:
    """The dashboard is an app mounted in the API's, and each of its pages calls an API route: a request
    reaches the innermost app, so the two apps' routes come in turn, and each keeps its own table."""
    mounted = FastAPI()

    @mounted.get("/pages/{page_id}")
    def page(page_id: str) -> dict[str, str]:
        return {"id": page_id}

    app = create_app(Settings())
    app.include_router(_compute_router(), prefix="/compute")
    app.mount("/console", mounted)
    routes = RouteTemplates()
    page_route = next(found for found in mounted.routes if getattr(found, "path", "") == "/pages/{page_id}")
    paged = {"type": "http", "path": "/console/pages/7", "root_path": "/console", "route": page_route}
    assert iter_route_contexts is not None
    server_route = next(
        context.original_route
        for context in iter_route_contexts(list(app.routes))
        if context.path_format == SERVER_ROUTE
    )
    served = {"type": "http", "path": "/compute/v2.1/servers/x", "route": server_route, "app": app}
    for _ in range(2):
        assert routes.template({**paged, "app": mounted}) == "/pages/{page_id}"
        assert routes.template(served) == SERVER_ROUTE
    tables = {key: table for key, (_, table) in routes._tables.items()}
    assert routes.template({**paged, "app": mounted}) == "/pages/{page_id}"
    assert routes.template(served) == SERVER_ROUTE
    assert {key: table for key, (_, table) in routes._tables.items()} == tables
    assert all(routes._tables[key][1] is table for key, table in tables.items())  # none rebuilt
