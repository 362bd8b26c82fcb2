"""/healthcheck, service liveness, and the app.state dependencies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient

from overcast.api.app import create_app
from overcast.api.deps import get_db, get_transport
from overcast.config import Settings
from overcast.db import Database
from overcast.db.models.service import ServiceRecord
from overcast.servicegroup import last_heartbeat, service_is_up

NOW = datetime(2030, 6, 1, 8, 0, tzinfo=UTC)


def _record(**columns: object) -> SimpleNamespace:
    defaults: dict[str, object] = {
        "host": "h",
        "binary": "overcast-compute",
        "forced_down": False,
        "last_seen_up": None,
        "updated_at": None,
        "created_at": None,
    }
    return SimpleNamespace(**{**defaults, **columns})


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"last_seen_up": NOW - timedelta(seconds=59)}, True),
        ({"last_seen_up": NOW - timedelta(seconds=61)}, False),
        ({"last_seen_up": NOW - timedelta(seconds=1), "forced_down": True}, False),
        # No heartbeat column yet: the last row change counts, then creation.
        ({"updated_at": NOW - timedelta(seconds=10)}, True),
        ({"created_at": NOW - timedelta(seconds=10)}, True),
        ({"created_at": NOW - timedelta(hours=1)}, False),
        ({}, False),
        # The heartbeat wins over a fresher row change (e.g. an admin disabling the service).
        ({"last_seen_up": NOW - timedelta(seconds=300), "updated_at": NOW}, False),
    ],
)
def test_service_is_up(columns: dict[str, object], expected: bool) -> None:
    assert service_is_up(_record(**columns), NOW, down_time=60) is expected


def test_naive_timestamps_are_read_as_utc() -> None:
    record = _record(last_seen_up=(NOW - timedelta(seconds=5)).replace(tzinfo=None))
    assert last_heartbeat(record) == NOW - timedelta(seconds=5)
    assert service_is_up(record, NOW, down_time=60)


def test_plain_healthcheck_says_ok() -> None:
    response = TestClient(create_app(Settings())).get("/healthcheck")
    assert response.status_code == 200
    assert response.text == "OK"
    assert response.headers["content-type"].startswith("text/plain")


def test_json_healthcheck_without_database_lists_no_services() -> None:
    response = TestClient(create_app(Settings())).get("/healthcheck", headers={"Accept": "application/json"})
    assert response.json() == {"status": "OK", "services": []}


def test_json_healthcheck_reports_each_service(db: Database) -> None:
    with db.writer() as session:
        session.add(ServiceRecord(host="c1", binary="overcast-compute", topic="compute", last_seen_up=NOW))
        session.add(
            ServiceRecord(
                host="s1",
                binary="overcast-scheduler",
                topic="scheduler",
                disabled=True,
                last_seen_up=NOW - timedelta(minutes=5),
            )
        )
    app = create_app(Settings(service_down_time=60), db=db)
    app.state.clock = lambda: NOW
    response = TestClient(app).get("/healthcheck", headers={"Accept": "application/json"})
    assert response.status_code == 200
    services = {entry["host"]: entry for entry in response.json()["services"]}
    assert services["c1"]["up"] is True
    assert services["c1"]["topic"] == "compute"
    assert services["s1"]["up"] is False
    assert services["s1"]["disabled"] is True
    assert services["s1"]["last_heartbeat"] == (NOW - timedelta(minutes=5)).isoformat()


def test_json_healthcheck_is_503_when_the_database_fails() -> None:
    broken = Database("sqlite://")  # never migrated: the services table does not exist
    response = TestClient(create_app(Settings(), db=broken)).get(
        "/healthcheck", headers={"Accept": "application/json"}
    )
    assert response.status_code == 503
    assert response.json()["status"] == "ERROR"
    broken.dispose()


def test_dependencies_refuse_missing_database_and_bus() -> None:
    router = APIRouter()

    @router.get("/db")
    def needs_db(db: Database = Depends(get_db)) -> dict[str, str]:
        return {"db": repr(db)}

    @router.get("/bus")
    def needs_bus(transport: object = Depends(get_transport)) -> dict[str, str]:
        return {"bus": repr(transport)}

    client = TestClient(create_app(Settings(), routers=[("/probe", router)]))
    for path in ("/probe/db", "/probe/bus"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.json()["serviceUnavailable"]["code"] == 503


def test_dependencies_return_what_create_app_stored(db: Database) -> None:
    router = APIRouter()

    @router.get("/db")
    def needs_db(found: Database = Depends(get_db)) -> dict[str, bool]:
        return {"same": found is db}

    client = TestClient(create_app(Settings(), db=db, routers=[("/probe", router)]))
    assert client.get("/probe/db").json() == {"same": True}
