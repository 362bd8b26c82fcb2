"""Helpers of the compute functional tests: raw compute calls, waiting for a server to settle."""

from __future__ import annotations

import time
from typing import Any

from openstack.connection import Connection
from openstack.exceptions import ResourceFailure

from tests.support.cloud import IMAGE_ID, TINY
from tests.support.waiting import WAIT_SECONDS


def compute(conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
    """A raw compute API call through the SDK's authenticated session (status codes, error bodies)."""
    return conn.compute.request(path, method, raise_exc=False, **kwargs)


INTERVAL = 0.05


def settled(conn: Connection, server_id: str, status: str) -> Any:
    """The server once it shows `status` with no task running (the sdk's wait trusts a stale object)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        current = conn.compute.get_server(server_id)
        if current.status == status and current.task_state is None:
            return current
        assert current.status != "ERROR" or status == "ERROR", f"{server_id} went to ERROR: {current.fault}"
        assert time.monotonic() < deadline, (
            f"{server_id} is {current.status}/{current.task_state}, not {status}"
        )
        time.sleep(INTERVAL)


def tiny_server(conn: Connection, name: str) -> Any:
    """A server of the tiny flavor and image, without networks, once it is ACTIVE (its fault if it fails)."""
    created = conn.compute.create_server(name=name, image_id=IMAGE_ID, flavor_id=TINY, networks="none")
    try:
        return conn.compute.wait_for_server(
            created, status="ACTIVE", failures=["ERROR"], interval=INTERVAL, wait=WAIT_SECONDS
        )
    except ResourceFailure:
        raise AssertionError(f"server {name}: {conn.compute.get_server(created).fault}") from None
