"""ClientToken idempotency (RunInstances, CreateVolume, CopyImage: the actions AWS gives a token): the
first request with a project's token claims it with a digest of its action and parameters before it makes
anything, then records what it made; a retry with the same parameters is answered with that, the same token
with other parameters is refused (`IdempotentParameterMismatch`), as AWS does. botocore fills a token in
for CreateVolume and CopyImage when the caller gives none, so every boto3 retry of those is safe."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from overcast.db.models.ec2 import Ec2ClientToken
from overcast.ec2.backends import Backends, Ec2Request, Response
from overcast.ec2.errors import Ec2Error, invalid_value

# AWS's longest token for most actions (CopyImage takes 128); a longer one is kept as its SHA-256.
MAX_TOKEN_LENGTH = 64
# What the digest compares: every parameter but these.
_NOT_COMPARED = frozenset({"ClientToken", "DryRun"})
_IN_PROGRESS = "A request with this client token is still being processed."


def idempotent(
    backends: Backends,
    request: Ec2Request,
    make: Callable[[], str],
    answer: Callable[[str, bool], Response],
    *,
    max_length: int = MAX_TOKEN_LENGTH,
) -> Response:
    """`make` once per ClientToken: it returns what names what it made (a reservation id, a UUID), and
    `answer(made, first)` answers with it, `first` False for a retry answered from the earlier request."""
    token = request.params.get("ClientToken")
    if not token:
        return answer(make(), True)
    if len(token) > max_length:
        raise invalid_value("ClientToken", token[:16] + "...", f"It is at most {max_length} characters.")
    key = token if len(token) <= MAX_TOKEN_LENGTH else hashlib.sha256(token.encode()).hexdigest()
    earlier = _claim(backends, request, key)
    if earlier is not None:
        return answer(earlier, False)
    try:
        made = make()
    except BaseException:
        _record(backends, request, key, None)
        raise
    _record(backends, request, key, made)
    return answer(made, True)


def _digest(request: Ec2Request) -> str:
    compared = {key: value for key, value in request.params.values.items() if key not in _NOT_COMPARED}
    return hashlib.sha256(json.dumps([request.action, compared], sort_keys=True).encode()).hexdigest()


def _claim(backends: Backends, request: Ec2Request, key: str) -> str | None:
    """What an earlier request with this token made, or None after claiming the token."""
    digest = _digest(request)

    def write(session: Session) -> str | None:
        held = session.get(Ec2ClientToken, (request.project_id, key))
        if held is None:
            session.add(
                Ec2ClientToken(project_id=request.project_id, client_token=key, request_digest=digest)
            )
            session.flush()
            return None
        if held.request_digest != digest:
            raise Ec2Error("IdempotentParameterMismatch",
                           "The client token was used before with other parameters.")  # fmt: skip
        if not held.made:
            raise Ec2Error("IncorrectState", _IN_PROGRESS)
        return held.made

    try:
        return backends.db.write(write)
    except IntegrityError:
        # Another request claimed the token at the same moment.
        raise Ec2Error("IncorrectState", _IN_PROGRESS) from None


def _record(backends: Backends, request: Ec2Request, key: str, made: str | None) -> None:
    """Keeps what the token's request made, or frees the token of a request that made nothing."""

    def write(session: Session) -> None:
        row = (Ec2ClientToken.project_id == request.project_id, Ec2ClientToken.client_token == key)
        if made is None:
            session.execute(delete(Ec2ClientToken).where(*row))
        else:
            session.execute(update(Ec2ClientToken).where(*row).values(made=made))

    backends.db.write(write)
