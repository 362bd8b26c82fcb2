"""Helpers of the compute admin functional tests: raw compute calls."""

from __future__ import annotations

from typing import Any

from openstack.connection import Connection


def compute(conn: Connection, method: str, path: str, **kwargs: Any) -> Any:
    """A raw compute API call through the SDK's authenticated session (status codes, error bodies)."""
    return conn.compute.request(path, method, raise_exc=False, **kwargs)
