"""The support pages' form reader: multipart bodies as browsers send them (built here by httpx), binary
files byte for byte, text fields with their line breaks, no file when none was chosen."""

from __future__ import annotations

import httpx

from overcast.dashboard.pages.support import parse_multipart


def _encoded(data: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[str, bytes]:
    request = httpx.Request("POST", "http://dashboard.test/", data=data, files=files)
    return request.headers["Content-Type"], request.read()


def test_fields_and_a_binary_file_come_back_as_sent() -> None:
    blob = bytes(range(256)) * 4 + b"\r\n--not-a-boundary\r\n"
    content_type, body = _encoded(
        {"csrf_token": "t0k", "body": "line one\r\nline two <script>", "internal": "on"},
        {"file": ("trace é.log", blob, "application/octet-stream")},
    )
    form = parse_multipart(content_type, body)
    assert form.fields == {"csrf_token": "t0k", "body": "line one\nline two <script>", "internal": "on"}
    assert form.upload is not None
    assert (form.upload.filename, form.upload.content_type, form.upload.data) == (
        "trace é.log",
        "application/octet-stream",
        blob,
    )


def test_an_empty_file_input_is_no_upload() -> None:
    content_type, body = _encoded({"body": "hi"}, {"file": ("", b"", "application/octet-stream")})
    form = parse_multipart(content_type, body)
    assert form.upload is None and form.get("body") == "hi"


def test_a_body_that_is_not_multipart_has_no_fields() -> None:
    form = parse_multipart("multipart/form-data; boundary=x", b"garbage without parts")
    assert form.fields == {} and form.upload is None
