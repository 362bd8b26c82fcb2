"""setup_logging: one line per record, each carrying the request id of the request it belongs to."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from overcast.api.app import create_app
from overcast.api.middleware import REQUEST_ID_HEADER
from overcast.config import Settings
from overcast.log import NO_REQUEST_ID, request_id_var, setup_logging


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.mark.usefixtures("restore_logging")
def test_key_value_lines_carry_the_request_id_and_extras(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO")
    client = TestClient(create_app(Settings()))
    request_id = client.get("/healthcheck").headers[REQUEST_ID_HEADER]
    lines = [line for line in capsys.readouterr().err.splitlines() if "overcast.api.access" in line]
    assert len(lines) == 1
    assert f"[{request_id}]" in lines[0]
    for field in ("method=GET", "path=/healthcheck", "status=200", "duration="):
        assert field in lines[0]


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_are_parseable_documents(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("INFO", json=True)
    client = TestClient(create_app(Settings()))
    request_id = client.get("/no/such/path").headers[REQUEST_ID_HEADER]
    documents = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    access = [doc for doc in documents if doc["logger"] == "overcast.api.access"]
    assert len(access) == 1
    assert access[0]["request_id"] == request_id
    assert (access[0]["method"], access[0]["path"], access[0]["status"]) == ("GET", "/no/such/path", 404)


@pytest.mark.usefixtures("restore_logging")
def test_outside_a_request_the_id_is_a_dash(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging("DEBUG", json=True)
    token = request_id_var.set("req-from-rpc")
    try:
        logging.getLogger("overcast.compute").info("inside")
    finally:
        request_id_var.reset(token)
    logging.getLogger("overcast.compute").info("outside")
    documents = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(doc["message"], doc["request_id"]) for doc in documents] == [
        ("inside", "req-from-rpc"),
        ("outside", NO_REQUEST_ID),
    ]


@pytest.mark.usefixtures("restore_logging")
def test_calling_setup_twice_keeps_one_handler() -> None:
    setup_logging("INFO")
    setup_logging("WARNING")
    ours = [handler for handler in logging.getLogger().handlers if getattr(handler, "_overcast", False)]
    assert len(ours) == 1
    assert logging.getLogger().level == logging.WARNING
