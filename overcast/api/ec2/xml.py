"""EC2's XML: a response is `<{Action}Response xmlns=…><requestId/>…`, an error AWS's
`<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.

Handlers answer with plain values: a dict is an element's children in order, a list is `<item>`
children, a datetime AWS's ISO 8601 with milliseconds, a bool `true`/`false`, None leaves the element
out. A read-only mapping (`types.MappingProxyType`, the actions' constant parts) is rendered once and
reused, an `Inline` the same without an element of its own, a `ConstantItems` list likewise: a page
of a thousand instances repeats the same few of them a thousand times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from overcast.ec2.backends import ConstantItems, Inline

NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/"
# What a text needs done to it: markup escaped, and the characters XML 1.0 cannot carry even escaped
# (a console log may hold them) dropped.
_NEEDS_WORK = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Rendered constants by element name and object id: only objects that live as long as the process.
_CONSTANTS: dict[tuple[str, int], str] = {}


class _Tags(dict[str, tuple[str, str]]):
    """Each element name's opening and closing tag, made once."""

    def __missing__(self, name: str) -> tuple[str, str]:
        tags = self[name] = (f"<{name}>", f"</{name}>")
        return tags


_TAGS = _Tags()


def aws_time(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    # isoformat is several times faster than a strftime format: 'YYYY-MM-DDTHH:MM:SS.mmm+00:00'.
    return value.isoformat(timespec="milliseconds")[:23] + "Z"


def _escaped(text: str) -> str:
    if _NEEDS_WORK.search(text) is None:
        return text
    text = _FORBIDDEN.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _element(name: str, value: Any, out: list[str]) -> None:
    kind = type(value)
    if kind is str:
        out.append(f"<{name}>{_escaped(value)}</{name}>")
    elif kind is dict:
        opening, closing = _TAGS[name]
        out.append(opening)
        # Most children are strings: rendered here rather than in a call each.
        for key, child in value.items():
            child_kind = type(child)
            if child_kind is str:
                child_open, child_close = _TAGS[key]
                # Most texts are printable and markup-free: written without the escaping's regex.
                if child.isprintable() and "&" not in child and "<" not in child and ">" not in child:
                    out += (child_open, child, child_close)
                else:
                    out += (child_open, _escaped(child), child_close)
            elif child_kind is int:
                child_open, child_close = _TAGS[key]
                out += (child_open, str(child), child_close)
            elif child_kind is bool:
                child_open, child_close = _TAGS[key]
                out += (child_open, "true" if child else "false", child_close)
            elif child_kind is MappingProxyType or child_kind is Inline or child_kind is ConstantItems:
                out.append(_CONSTANTS.get((key, id(child))) or _constant(key, child))
            elif child_kind is datetime:
                child_open, child_close = _TAGS[key]
                out += (child_open, aws_time(child), child_close)
            elif (child_kind is list or child_kind is tuple) and not child:
                child_open, child_close = _TAGS[key]
                out += (child_open, child_close)
            elif child is not None:
                _element(key, child, out)
        out.append(closing)
    elif kind is list or kind is tuple:
        out.append(f"<{name}>")
        for item in value:
            _element("item", item, out)
        out.append(f"</{name}>")
    elif kind is bool:
        out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
    elif kind is int:
        out.append(f"<{name}>{value}</{name}>")
    elif value is None:
        return
    elif isinstance(value, datetime):
        out.append(f"<{name}>{aws_time(value)}</{name}>")
    elif kind is MappingProxyType or kind is Inline or kind is ConstantItems:
        out.append(_CONSTANTS.get((name, id(value))) or _constant(name, value))
    else:
        out.append(f"<{name}>{_escaped(str(value))}</{name}>")


def _constant(name: str, value: MappingProxyType[str, Any] | Inline | ConstantItems) -> str:
    parts: list[str] = []
    if isinstance(value, Inline):
        for key, child in value.children.items():
            _element(key, child, parts)
    elif isinstance(value, ConstantItems):
        _element(name, list(value), parts)
    else:
        _element(name, dict(value), parts)
    rendered = _CONSTANTS[(name, id(value))] = "".join(parts)
    return rendered


def response(action: str, request_id: str, body: dict[str, Any]) -> bytes:
    out = ['<?xml version="1.0" encoding="UTF-8"?>', f'<{action}Response xmlns="{NAMESPACE}">',
           f"<requestId>{_escaped(request_id)}</requestId>"]  # fmt: skip
    for key, value in body.items():
        if value is not None:
            _element(key, value, out)
    out.append(f"</{action}Response>")
    return "".join(out).encode()


def error(code: str, message: str, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Errors><Error><Code>{_escaped(code)}</Code><Message>{_escaped(message)}</Message></Error>"
        f"</Errors><RequestID>{_escaped(request_id)}</RequestID></Response>"
    ).encode()
