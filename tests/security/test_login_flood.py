"""A flood of logins cannot exhaust the API (#12 defect 4).

Every login ran a 64 MiB argon2id hash with no bound on how many ran at once, for unknown users too. Now
a HashGate admits as many hashes as there are cores and a short queue, refusing the rest with 503 and
Retry-After; token buckets limit logins per client address and per user name (429 and Retry-After); an
unknown user costs exactly the one hash a known one does. Driven deterministically: a gate of one slot
that the test holds itself, and the rate limits on an injected clock; the load itself is bench/identity.py's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from overcast.identity.login_limits import LoginGuard
from overcast.identity.passwords import HashGate, PasswordHasher
from overcast.identity.service import IdentityService
from overcast.identity.settings import IdentitySettings
from tests.support.api_apps import identity_app, roomy_login_limits, served
from tests.support.cloud import InProcessCloud

TOKENS = "/identity/v3/auth/tokens"


class Ticker:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcessCloud]:
    with roomy_login_limits():
        running = InProcessCloud(tmp_path_factory.mktemp("login-flood"))
    yield running
    running.stop()


def identity_service(
    cloud: InProcessCloud, gate: HashGate, ticker: Ticker | None = None, **limits: Any
) -> IdentityService:
    config = IdentitySettings(**limits)
    service = IdentityService(
        cloud.settings, cloud.cloud.db, config, hasher=PasswordHasher(1, 1024, gate=gate)
    )
    if ticker is not None:
        # The rate limits on the test's clock instead of time.monotonic.
        service.core.login_guard = LoginGuard(
            cloud.cloud.db, config, service.core.login_guard.now, monotonic=ticker
        )
    return service


def user_login(user: dict[str, Any]) -> dict[str, Any]:
    return {"auth": {"identity": {"methods": ["password"], "password": {"user": user}}}}


def password_login(name: str, password: str) -> dict[str, Any]:
    return user_login({"name": name, "domain": {"id": "default"}, "password": password})


def client(base_url: str, address: str = "127.0.0.1") -> httpx.Client:
    """A client whose connections come from `address` (any of 127.0.0.0/8 reaches the loopback server)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=base_url, transport=transport, timeout=60)


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def assert_refused(response: httpx.Response, status: int, retry_after: int | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == status and error["title"] and error["message"]
    assert int(response.headers["Retry-After"]) >= 1
    if retry_after is not None:
        assert int(response.headers["Retry-After"]) == retry_after


def test_the_gate_is_sized_to_the_cores_with_a_short_queue() -> None:
    gate = HashGate()
    assert gate.slots == (os.cpu_count() or 1)
    assert gate.queue_limit == 2 * gate.slots


def test_logins_beyond_the_hash_slots_queue_then_the_rest_get_503(cloud: InProcessCloud) -> None:
    gate = HashGate(slots=1, queue_limit=1, max_wait_seconds=60)
    demo = password_login("demo", cloud.password("demo"))
    with served(identity_app(cloud, identity_service(cloud, gate))) as base_url, client(base_url) as http:
        queued: list[httpx.Response] = []
        with gate.slot():  # the test's own hash holds the only slot
            waiter = threading.Thread(target=lambda: queued.append(http.post(TOKENS, json=demo)))
            waiter.start()
            wait_for(lambda: gate.waiting == 1, "the first login to queue")
            started = time.monotonic()
            assert_refused(http.post(TOKENS, json=demo), 503)
            assert time.monotonic() - started < 30  # refused at once, not after the slot's 60 s wait
            assert not queued
        waiter.join(30)
        assert [response.status_code for response in queued] == [201]
        assert (gate.running, gate.waiting) == (0, 0)


def test_a_queued_login_gives_up_after_the_longest_wait(cloud: InProcessCloud) -> None:
    gate = HashGate(slots=1, queue_limit=4, max_wait_seconds=0.05)
    service = identity_service(cloud, gate)
    with served(identity_app(cloud, service)) as base_url, client(base_url) as http, gate.slot():
        admitted = gate.admitted
        assert_refused(http.post(TOKENS, json=password_login("demo", cloud.password("demo"))), 503)
        assert gate.admitted == admitted and gate.waiting == 0


def test_logins_are_limited_per_client_address(cloud: InProcessCloud) -> None:
    ticker = Ticker()
    service = identity_service(
        cloud, HashGate(slots=2), ticker, login_burst_per_address=3, logins_per_second_per_address=0.5
    )
    with (
        served(identity_app(cloud, service)) as base_url,
        client(base_url) as first,
        client(base_url, "127.0.0.2") as second,
    ):
        for name in ("a", "b", "c"):  # different names: the address is what is limited
            assert first.post(TOKENS, json=password_login(name, "guess")).status_code == 401
        admitted = service.core.hasher.gate.admitted
        assert_refused(first.post(TOKENS, json=password_login("d", "guess")), 429, retry_after=2)
        assert service.core.hasher.gate.admitted == admitted  # refused before any hash
        assert second.post(TOKENS, json=password_login("d", "guess")).status_code == 401
        ticker.now += 2
        assert first.post(TOKENS, json=password_login("e", "guess")).status_code == 401
        assert_refused(first.post(TOKENS, json=password_login("f", "guess")), 429)


def test_logins_are_limited_per_user_name_whatever_the_address(cloud: InProcessCloud) -> None:
    ticker = Ticker()
    service = identity_service(
        cloud, HashGate(slots=2), ticker, login_burst_per_user=2, logins_per_second_per_user=0.1
    )
    demo = password_login("demo", cloud.password("demo"))
    with served(identity_app(cloud, service)) as base_url:
        clients = [client(base_url, f"127.0.0.{n}") for n in (1, 2, 3)]
        try:
            assert clients[0].post(TOKENS, json=demo).status_code == 201
            assert clients[1].post(TOKENS, json=password_login("demo", "guess")).status_code == 401
            assert_refused(clients[2].post(TOKENS, json=demo), 429, retry_after=10)
            admin = password_login("admin", cloud.password("admin"))
            assert clients[2].post(TOKENS, json=admin).status_code == 201
            ticker.now += 10
            assert clients[2].post(TOKENS, json=demo).status_code == 201
        finally:
            for each in clients:
                each.close()


def test_every_login_costs_one_hash_whether_the_user_exists_or_not(cloud: InProcessCloud) -> None:
    gate = HashGate(slots=2)
    service = identity_service(cloud, gate, max_failed_logins=2)

    def hashes(body: dict[str, Any]) -> tuple[int, int]:
        before = gate.admitted
        response = http.post(TOKENS, json=body)
        return response.status_code, gate.admitted - before

    with served(identity_app(cloud, service)) as base_url, client(base_url) as http:
        assert hashes(password_login("demo", cloud.password("demo"))) == (201, 1)
        assert hashes(password_login("demo", "guess")) == (401, 1)
        assert hashes(password_login("nobody", "guess")) == (401, 1)
        unknown_id = {"id": "no-such-id", "password": "guess"}
        assert hashes(user_login(unknown_id)) == (401, 1)
        elsewhere = {"name": "demo", "domain": {"name": "no-such-domain"}, "password": "guess"}
        assert hashes(user_login(elsewhere)) == (401, 1)
        credential = {"id": "no-such-credential", "secret": "guess"}
        application = {"methods": ["application_credential"], "application_credential": credential}
        assert hashes({"auth": {"identity": application}}) == (401, 1)
        # Locked, known or not: refused before the hash, the same way.
        assert hashes(password_login("demo", "guess")) == (401, 1)
        assert hashes(password_login("demo", cloud.password("demo"))) == (429, 0)
        assert hashes(password_login("nobody", "guess")) == (401, 1)
        assert hashes(password_login("nobody", "guess")) == (429, 0)


def test_a_login_refused_before_its_hash_gives_its_place_back(cloud: InProcessCloud) -> None:
    gate = HashGate(slots=1, queue_limit=0)
    with served(identity_app(cloud, identity_service(cloud, gate))) as base_url, client(base_url) as http:
        no_password = user_login({"name": "admin", "domain": {"id": "default"}})
        for _ in range(3):
            assert http.post(TOKENS, json=no_password).status_code == 401
        assert (gate.reserved, gate.running, gate.waiting) == (0, 0, 0)
        assert http.post(TOKENS, json=password_login("admin", cloud.password("admin"))).status_code == 201
