"""EC2's XML: a response is `<{Action}Response xmlns=…><requestId/>…`, an error AWS's
`<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.

Handlers answer with plain values: a dict is an element's children in order, a list is `<item>`
children, a datetime AWS's ISO 8601 with milliseconds, a bool `true`/`false`, None leaves the element
out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
# XML 1.0 cannot carry these characters even escaped; a value holding one (a console log) loses them.
_FORBIDDEN = {code: None for code in (*range(0, 9), 11, 12, *range(14, 32), 0xFFFE, 0xFFFF)}


def aws_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return aws_time(value)
    return escape(str(value).translate(_FORBIDDEN))


def _element(name: str, value: Any, out: list[str]) -> None:
    if value is None:
        return
    if isinstance(value, dict):
        out.append(f"<{name}>")
        for key, child in value.items():
            _element(key, child, out)
        out.append(f"</{name}>")
    elif isinstance(value, list | tuple):
        out.append(f"<{name}>")
        for item in value:
            _element("item", item, out)
        out.append(f"</{name}>")
    else:
        out.append(f"<{name}>{_text(value)}</{name}>")


def response(action: str, request_id: str, body: dict[str, Any]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<{action}Response xmlns="{NAMESPACE}">',
           f"<requestId>{escape(request_id)}</requestId>"]  # fmt: skip
    for key, value in body.items():
        _element(key, value, out)
    out.append(f"</{action}Response>")
    return "".join(out).encode()


def error(code: str, message: str, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{_text(code)}</Code><Message>{_text(message)}</Message></Error>"
        f"</Errors><RequestID>{escape(request_id)}</RequestID></Response>"
    ).encode()
