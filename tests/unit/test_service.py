"""The service runner: RPC dispatch to a manager and its additional endpoints, periodic tasks, heartbeat."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest
from sqlalchemy import select

from overcast import errors
from overcast.bus import get_transport
from overcast.cloud import Cloud
from overcast.config import load_settings
from overcast.context import RequestContext
from overcast.db.engine import Database
from overcast.db.models.service import ServiceRecord
from overcast.manager import Manager, periodic_task, rpc_method
from overcast.rpcapi import ServiceRPCAPI
from overcast.service import Service
from overcast.servicegroup import service_is_up
from tests.support.waiting import WAIT_SECONDS


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class EchoManager(Manager):
    RPC_API_VERSION: ClassVar[str] = "1.2"
    topic: ClassVar[str] = "echo"
    binary: ClassVar[str] = "overcast-echo"

    def __init__(self, cloud: Cloud, host: str) -> None:
        super().__init__(cloud, host)
        self.ticks = 0
        self.ticked = threading.Event()
        self.cleaned_up = False

    @rpc_method
    def shout(self, ctxt: RequestContext, word: str) -> str:
        return f"{word.upper()} from {self.host} for {ctxt.request_id}"

    def not_exposed(self, ctxt: RequestContext) -> str:
        return "secret"

    @periodic_task(spacing=0.01, run_immediately=True)
    def tick(self) -> None:
        self.ticks += 1
        if self.ticks >= 3:
            self.ticked.set()

    def cleanup_host(self) -> None:
        self.cleaned_up = True


class EchoAPI(ServiceRPCAPI):
    TOPIC: ClassVar[str] = "echo"
    VERSION: ClassVar[str] = "1.2"

    def shout(self, ctxt: RequestContext, word: str, host: str | None = None) -> Any:
        return self.client.prepare(host=host).call(ctxt, "shout", word=word)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[Cloud]:
    settings = load_settings(
        data_dir=tmp_path,
        transport_url=f"inproc://{tmp_path.name}",
        report_interval=0.05,
        service_down_time=60,
    )
    db = Database(settings.sql_url)
    db.upgrade()
    cloud = Cloud(settings=settings, db=db, transport=get_transport(settings.transport_url), clock=Clock())
    yield cloud
    cloud.close()


def test_rpc_reaches_only_marked_methods(cloud: Cloud) -> None:
    service = Service(cloud, EchoManager(cloud, "host-a"))
    service.start()
    try:
        api = EchoAPI(cloud.transport, timeout=WAIT_SECONDS)
        ctxt = RequestContext(request_id="req-1")
        assert api.shout(ctxt, "hi") == "HI from host-a for req-1"
        assert api.ping(ctxt, host="host-a", payload=7) == {
            "host": "host-a",
            "topic": "echo",
            "version": "1.2",
            "payload": 7,
        }
        for forbidden in ("not_exposed", "init_host", "cleanup_host", "report_state"):
            with pytest.raises(errors.OvercastError):
                api.client.call(ctxt, forbidden)
    finally:
        service.stop()


class WhisperEndpoint:
    """An additional endpoint: its own RPC methods and version, served on the manager's topic."""

    RPC_API_VERSION: ClassVar[str] = "1.1"

    def __init__(self, host: str) -> None:
        self.host = host

    @rpc_method
    def whisper(self, ctxt: RequestContext, word: str) -> str:
        return f"{word.lower()} from {self.host}"

    def not_exposed(self, ctxt: RequestContext) -> str:
        return "secret"


def test_additional_endpoints_are_served_each_with_its_version(cloud: Cloud) -> None:
    manager = EchoManager(cloud, "host-a")
    manager.additional_endpoints.append(WhisperEndpoint("host-a"))
    service = Service(cloud, manager)
    service.start()
    try:
        api = EchoAPI(cloud.transport, timeout=WAIT_SECONDS)
        ctxt = RequestContext(request_id="req-1")
        assert api.shout(ctxt, "hi") == "HI from host-a for req-1"
        assert api.client.prepare(version="1.1").call(ctxt, "whisper", word="HUSH") == "hush from host-a"
        with pytest.raises(errors.UnsupportedVersion):
            api.client.call(ctxt, "whisper", word="HUSH")  # the client speaks 1.2; the endpoint serves 1.1
        with pytest.raises(errors.OvercastError):
            api.client.call(ctxt, "not_exposed")
    finally:
        service.stop()


class ShoutingEndpoint:
    RPC_API_VERSION: ClassVar[str] = "1.2"

    @rpc_method
    def shout(self, ctxt: RequestContext, word: str) -> str:
        return word


def test_a_method_served_by_two_endpoints_is_refused(cloud: Cloud) -> None:
    manager = EchoManager(cloud, "host-a")
    manager.additional_endpoints.append(ShoutingEndpoint())
    with pytest.raises(ValueError, match="shout"):
        Service(cloud, manager)


def test_periodic_tasks_run_and_stop_runs_cleanup(cloud: Cloud) -> None:
    manager = EchoManager(cloud, "host-a")
    service = Service(cloud, manager)
    service.start()
    assert manager.ticked.wait(WAIT_SECONDS)
    service.stop()
    assert manager.cleaned_up
    ticks = manager.ticks
    threading.Event().wait(0.1)
    assert manager.ticks == ticks


def test_heartbeat_records_service_and_liveness_follows_it(cloud: Cloud) -> None:
    clock = cloud.clock
    assert isinstance(clock, Clock)
    service = Service(cloud, EchoManager(cloud, "host-b"), report_interval=3600)
    service.report_state()
    service.report_state()
    with cloud.db.reader() as session:
        record = session.execute(select(ServiceRecord).where(ServiceRecord.host == "host-b")).scalar_one()
        assert record.binary == "overcast-echo"
        assert record.topic == "echo"
        assert record.report_count == 2
        assert service_is_up(record, clock.now + timedelta(seconds=59), 60)
        assert not service_is_up(record, clock.now + timedelta(seconds=61), 60)
