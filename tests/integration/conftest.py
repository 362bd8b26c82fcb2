"""Fixtures for tests against real servers (RabbitMQ; PostgreSQL's live in tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.support.rabbitmq import RabbitMQUnavailable, ensure_rabbitmq


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """``rabbit://guest:guest@127.0.0.1:5672//`` of a local broker, started (and installed) if needed."""
    try:
        return ensure_rabbitmq()
    except RabbitMQUnavailable as exc:
        pytest.fail(f"RabbitMQ is needed by this test: {exc}")
