"""MaxResults/NextToken: a page of a Describe action's items and the token of the next one.

The token is opaque to clients; here it is the position after the page, signed with the action and
the caller's project so a token from another listing or project is refused rather than misread."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from overcast.ec2.errors import Ec2Error
from overcast.ec2.params import Params

T = TypeVar("T")


@dataclass(frozen=True)
class PageRules:
    """AWS's bounds of MaxResults for an action (DescribeInstances: 5..1000)."""

    low: int = 5
    high: int = 1000


def _digest(key: bytes, scope: str, position: int) -> str:
    return hmac.new(key, f"{scope}:{position}".encode(), hashlib.sha256).hexdigest()[:16]


def encode_token(key: bytes, scope: str, position: int) -> str:
    raw = json.dumps({"p": position, "d": _digest(key, scope, position)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def decode_token(key: bytes, scope: str, token: str) -> int:
    invalid = Ec2Error("InvalidNextToken", "The token is invalid")
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        position = int(data["p"])
        digest = str(data["d"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeError):
        raise invalid from None
    if position < 0 or not hmac.compare_digest(digest, _digest(key, scope, position)):
        raise invalid
    return position


def page(items: Sequence[T], params: Params, *, key: bytes, scope: str,
         rules: PageRules = PageRules()) -> tuple[Sequence[T], str | None]:  # fmt: skip
    """The page MaxResults and NextToken select, and the next page's token (None on the last)."""
    limit = params.integer("MaxResults", low=rules.low, high=rules.high)
    token = params.get("NextToken")
    start = decode_token(key, scope, token) if token else 0
    if limit is None:
        return items[start:], None
    end = start + limit
    return items[start:end], encode_token(key, scope, end) if end < len(items) else None
