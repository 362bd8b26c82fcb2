"""Fixtures for tests against real servers (RabbitMQ, Swift; PostgreSQL's live in tests/conftest.py) and the
network lab (namespaces standing for hosts and VMs)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.integration.network_hosts import Lab
from tests.support.chromium import CHROMIUM
from tests.support.rabbitmq import RabbitMQUnavailable, running_rabbitmq
from tests.support.swift import SwiftCluster, SwiftUnavailable
from tests.support.waiting import WAIT_SECONDS


@pytest.fixture(scope="session")
def rabbitmq_url() -> Iterator[str]:
    """``rabbit://guest:guest@127.0.0.1:5672//`` of a local broker, started (and installed) if needed, and
    stopped at the end of the session if this fixture started it."""
    try:
        with running_rabbitmq() as url:
            yield url
    except RabbitMQUnavailable as exc:
        pytest.fail(f"RabbitMQ is needed by this test: {exc}")


@pytest.fixture(scope="module")
def swift(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SwiftCluster]:
    """A one-node Swift on 127.0.0.1 (tempauth), for one test module."""
    cluster = SwiftCluster(tmp_path_factory.mktemp("swift"))
    try:
        cluster.start()
    except SwiftUnavailable as exc:
        cluster.stop()
        pytest.fail(f"Swift is needed by this test: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A network lab whose namespaces, links, nft tables and processes are all gone after the test."""
    lab = Lab(state_dir=tmp_path / "network")
    try:
        yield lab
    finally:
        lab.cleanup()
    assert lab.leftovers() == []


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, launched once per browser-test module."""
    # An expectation waits WAIT_SECONDS for the page (Playwright's own default is 5 s; CI runs the browser
    # beside QEMU guests on two cores).
    expect.set_options(timeout=WAIT_SECONDS * 1000)
    with sync_playwright() as playwright:
        # As root (the test machines) Chromium needs its sandbox off.
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()
