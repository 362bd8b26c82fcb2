"""Fixtures every functional module shares: one in-process cloud per module and its two users.

A module that needs a differently built cloud (its own drivers or image settings) defines its own
`cloud` fixture; `demo` and `admin` then connect to that one.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openstack.connection import Connection

from tests.support.api_apps import roomy_login_limits
from tests.support.cloud import InProcessCloud


@pytest.fixture(scope="module")
def cloud(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessCloud]:
    # The `openstack` CLI logs in on every command, and from a warmed process (tests/support/openstack_cli.py)
    # a module runs them faster than a user's login rate limit allows; the limits have their own tests.
    with roomy_login_limits():
        running = InProcessCloud(tmp_path_factory.mktemp(request.module.__name__.rpartition(".")[2]))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def demo(cloud: InProcessCloud) -> Connection:
    return cloud.connect("demo")


@pytest.fixture(scope="module")
def admin(cloud: InProcessCloud) -> Connection:
    return cloud.connect("admin")
