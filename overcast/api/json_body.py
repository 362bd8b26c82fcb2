"""Request bodies as JSON every API may parse: bounded nesting, and text the databases can store.

Python's parser recurses once per level, so a deeply nested body ends in RecursionError (a 500) and
a few thousand levels cost the stack; no OpenStack request body nests beyond a handful of levels.
JSON's ``\\ud800`` escape decodes to a lone surrogate, which is no Unicode text: neither UTF-8 (SQLite,
PostgreSQL) nor a log line can hold it, so the write that meets it fails with a 500 far from here.
"""

from __future__ import annotations

import json
import re
from typing import Any

from overcast import errors

# Far deeper than any OpenStack body (the deepest, a server's block devices, nests 4 levels), far
# shallower than Python's recursion limit.
MAX_DEPTH = 32
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class MalformedJSON(errors.BadRequest):
    """The body is not JSON at all."""

    default_message = "Malformed JSON in request body."


class UnacceptableJSON(errors.BadRequest):
    """The body is JSON, but nests too deep or holds what is no text."""

    default_message = "JSON in request body is not acceptable."


def load_json(raw: bytes | str) -> Any:
    """The JSON document in `raw`; MalformedJSON or UnacceptableJSON (both 400) otherwise."""
    try:
        document = json.loads(raw)
    except RecursionError:
        raise UnacceptableJSON(f"JSON in request body is nested deeper than {MAX_DEPTH} levels.") from None
    except ValueError as exc:  # JSONDecodeError, and UnicodeDecodeError for bytes that are not UTF-8
        raise MalformedJSON(f"Malformed JSON in request body: {exc}") from None
    check_document(document)
    return document


def check_document(document: Any) -> None:
    """UnacceptableJSON if `document` nests deeper than MAX_DEPTH or holds a lone surrogate anywhere."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise UnacceptableJSON(f"JSON in request body nests deeper than {MAX_DEPTH} levels.")
            if isinstance(value, dict):
                for key, item in value.items():
                    _check_text(key)
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in value)


def _check_text(text: str) -> None:
    if not text.isascii() and _LONE_SURROGATE.search(text):
        raise UnacceptableJSON("Request body holds a lone UTF-16 surrogate (\\ud800-\\udfff), not text.")
