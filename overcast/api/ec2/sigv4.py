"""AWS Signature Version 4, checked as AWS checks it: the Authorization header (or a presigned URL's
X-Amz-* query parameters), the credential's scope (its day, the cloud's region, service `ec2`), the
request's time within 15 minutes of ours, and the signature over the canonical request."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote

from overcast.ec2.errors import Ec2Error

ALGORITHM = "AWS4-HMAC-SHA256"
SERVICE = "ec2"
MAX_SKEW = timedelta(minutes=15)
# A presigned request's X-Amz-Expires: AWS accepts at most 7 days.
MAX_EXPIRES = 7 * 24 * 3600
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_HEADER = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*SignedHeaders=(?P<signed>[^,\s]+),\s*"
    r"Signature=(?P<signature>[0-9a-f]{64})\s*"
)


@dataclass(frozen=True)
class SignedRequest:
    method: str
    # The path and query string as the client sent them (percent-encoded).
    raw_path: str
    raw_query: str
    # Every header, names lower-cased; a repeated header's values in order.
    headers: Mapping[str, Sequence[str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Signature:
    access_key: str
    day: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: datetime
    presigned_expires: int | None = None


def _incomplete(message: str) -> Ec2Error:
    return Ec2Error("IncompleteSignature", message)


def _query_pairs(raw_query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in raw_query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((unquote(key.replace("+", " ")), unquote(value.replace("+", " "))))
    return pairs


def _parse_time(text: str | None) -> datetime:
    if not text:
        raise _incomplete("Authorization header requires either a 'X-Amz-Date' or a 'Date' header.")
    try:
        return datetime.strptime(text, _AMZ_DATE).replace(tzinfo=UTC)
    except ValueError:
        raise _incomplete(f"Invalid X-Amz-Date: {text}") from None


def _credential(text: str) -> tuple[str, str, str, str]:
    parts = text.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        raise _incomplete(f"Credential should be scoped to a valid region, not '{text}'.")
    return parts[0], parts[1], parts[2], parts[3]


def parse(request: SignedRequest) -> Signature:
    """The request's signature; AuthFailure when it has none, IncompleteSignature when malformed."""
    header = request.header("authorization")
    if header is not None:
        found = _HEADER.fullmatch(header.strip())
        if found is None:
            raise _incomplete(f"Authorization header is not a valid {ALGORITHM} signature.")
        access, day, region, service = _credential(found["credential"])
        return Signature(
            access, day, region, service, tuple(found["signed"].split(";")), found["signature"],
            _parse_time(request.header("x-amz-date") or _http_date(request.header("date"))),
        )  # fmt: skip
    query = dict(_query_pairs(request.raw_query))
    if "X-Amz-Signature" in query or "X-Amz-Algorithm" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise _incomplete(f"X-Amz-Algorithm must be {ALGORITHM}.")
        try:
            access, day, region, service = _credential(query["X-Amz-Credential"])
            signed = tuple(query["X-Amz-SignedHeaders"].split(";"))
            signature = query["X-Amz-Signature"]
            expires = int(query.get("X-Amz-Expires", str(MAX_EXPIRES)))
        except (KeyError, ValueError):
            raise _incomplete("A presigned request needs X-Amz-Credential, X-Amz-SignedHeaders, "
                              "X-Amz-Signature and a numeric X-Amz-Expires.") from None  # fmt: skip
        if not 0 < expires <= MAX_EXPIRES:
            raise _incomplete("X-Amz-Expires must be between 1 and 604800 seconds.")
        timestamp = _parse_time(query.get("X-Amz-Date"))
        return Signature(access, day, region, service, signed, signature, timestamp, expires)
    raise Ec2Error("AuthFailure", "AWS was not able to validate the provided access credentials")


def _http_date(text: str | None) -> str | None:
    if text is None:
        return None
    try:
        return parsedate_to_datetime(text).astimezone(UTC).strftime(_AMZ_DATE)
    except (TypeError, ValueError):
        return None


def _canonical_query(raw_query: str, *, drop_signature: bool) -> str:
    pairs = [
        (quote(key, safe="-_.~"), quote(value, safe="-_.~"))
        for key, value in _query_pairs(raw_query)
        if not (drop_signature and key == "X-Amz-Signature")
    ]
    return "&".join(f"{key}={value}" for key, value in sorted(pairs))


def canonical_request(request: SignedRequest, signature: Signature) -> str:
    path = quote(unquote(request.raw_path) or "/", safe="/~")
    headers = []
    for name in signature.signed_headers:
        values = request.headers.get(name)
        if values is None:
            raise Ec2Error("SignatureDoesNotMatch", f"The request signature names the header {name}, "
                                                    "which the request does not have.")  # fmt: skip
        headers.append(f"{name}:{','.join(' '.join(value.split()) for value in values)}\n")
    # A presigned request's payload is hashed too (its body is empty): only S3 signs UNSIGNED-PAYLOAD.
    payload = request.header("x-amz-content-sha256") or hashlib.sha256(request.body).hexdigest()
    return "\n".join((
        request.method, path,
        _canonical_query(request.raw_query, drop_signature=signature.presigned_expires is not None),
        "".join(headers), ";".join(signature.signed_headers), payload,
    ))  # fmt: skip


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def expected_signature(request: SignedRequest, signature: Signature, secret: str) -> str:
    scope = f"{signature.day}/{signature.region}/{signature.service}/aws4_request"
    digest = hashlib.sha256(canonical_request(request, signature).encode()).hexdigest()
    string_to_sign = "\n".join((ALGORITHM, signature.timestamp.strftime(_AMZ_DATE), scope, digest))
    key = _hmac(("AWS4" + secret).encode(), signature.day)
    for part in (signature.region, signature.service, "aws4_request"):
        key = _hmac(key, part)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def check_scope(signature: Signature, *, region: str, now: datetime) -> None:
    """Everything but the signature itself: what AWS refuses before it looks up the key's secret."""
    if signature.service != SERVICE:
        raise Ec2Error("SignatureDoesNotMatch", f"Credential should be scoped to service '{SERVICE}'.")
    if signature.region != region:
        raise Ec2Error(
            "AuthFailure", f"Credential should be scoped to a valid region, not {signature.region!r}."
        )
    if signature.day != signature.timestamp.strftime("%Y%m%d"):
        raise Ec2Error("SignatureDoesNotMatch", "Credential should be scoped to the request's day.")
    if "host" not in signature.signed_headers:
        raise Ec2Error("SignatureDoesNotMatch", "The host header must be signed.")
    if signature.presigned_expires is not None:
        if now > signature.timestamp + timedelta(seconds=signature.presigned_expires) or (
            signature.timestamp > now + MAX_SKEW
        ):
            raise Ec2Error("RequestExpired", "Request has expired.")
    elif abs(now - signature.timestamp) > MAX_SKEW:
        raise Ec2Error("RequestExpired", f"Request has expired. Timestamp date is "
                                         f"{signature.timestamp.strftime(_AMZ_DATE)}")  # fmt: skip


def verify(request: SignedRequest, signature: Signature, secret: str) -> None:
    expected = expected_signature(request, signature, secret)
    if not hmac.compare_digest(expected, signature.signature):
        raise Ec2Error(
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
        )
