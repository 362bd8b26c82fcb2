"""The EC2 Query API at /ec2 (catalog type `ec2`): form-encoded POST or GET with `Action` and `Version`,
signed with AWS Signature Version 4 by an EC2 credential of the identity service, answered in EC2's
XML. The router only checks the signature and renders; `overcast/ec2/`'s `Ec2API` runs the action."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from overcast.api.auth import public_path
from overcast.api.ec2 import sigv4, xml
from overcast.context import new_request_id
from overcast.ec2.errors import Ec2Error, missing_parameter
from overcast.ec2.service import PATH, Ec2API

LOG = logging.getLogger(__name__)
# Signed requests carry no token: the signature is the credential, checked here.
PUBLIC_PATHS = (public_path(PATH, methods=("GET", "POST")),)
XML = "text/xml;charset=UTF-8"
FORM = "application/x-www-form-urlencoded"
# A presigned URL's own parameters (botocore presigns GET and POST alike), which are not the action's.
_SIGNING_PARAMETERS = frozenset({
    "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders",
    "X-Amz-Signature", "X-Amz-Security-Token",
})  # fmt: skip

router = APIRouter()


def _parameters(request: Request, body: bytes) -> dict[str, str]:
    pairs = parse_qsl(request.url.query, keep_blank_values=True)
    if request.method == "POST":
        media_type = request.headers.get("content-type", FORM).partition(";")[0].strip().lower()
        if media_type != FORM:
            raise Ec2Error("InvalidParameterValue", f"The content type {media_type} is not supported; "
                                                    f"send {FORM}.")  # fmt: skip
        try:
            pairs += parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            raise Ec2Error("InvalidParameterValue", "The request body is not UTF-8.") from None
    return {key: value for key, value in pairs if key not in _SIGNING_PARAMETERS}


def _serve(api: Ec2API, request: Request, body: bytes, request_id: str, now: Any) -> tuple[str, bytes]:
    signed = sigv4.SignedRequest(
        method=request.method, raw_path=request.scope.get("raw_path", b"").decode("latin-1")
        or request.url.path, raw_query=request.scope.get("query_string", b"").decode("latin-1"),
        headers={name: request.headers.getlist(name) for name in request.headers}, body=body,
    )  # fmt: skip
    signature = sigv4.parse(signed)
    sigv4.check_scope(signature, region=api.region, now=now)
    secret, context = api.authenticate(signature.access_key, request_id)
    sigv4.verify(signed, signature, secret)
    values = _parameters(request, body)
    action = values.pop("Action", "")
    if not action:
        raise missing_parameter("Action")
    if not values.pop("Version", ""):
        raise missing_parameter("Version")
    return action, xml.response(action, request_id, api.call(context, action, values))


@router.api_route(PATH, methods=["GET", "POST"], include_in_schema=False)
@router.api_route(PATH + "/", methods=["GET", "POST"], include_in_schema=False)
async def ec2(request: Request) -> Response:
    api: Ec2API = request.app.state.ec2
    request_id = request.scope.get("state", {}).get("request_id") or new_request_id()
    body = await request.body()
    try:
        now = request.app.state.clock()
        _, content = await run_in_threadpool(_serve, api, request, body, request_id, now)
    except Ec2Error as error:
        return Response(xml.error(error.code, error.message, request_id), status_code=error.status,
                        media_type=XML)  # fmt: skip
    except Exception:
        LOG.exception("EC2 request %s failed", request_id)
        return Response(xml.error("InternalError", "An internal error has occurred.", request_id),
                        status_code=500, media_type=XML)  # fmt: skip
    return Response(content, media_type=XML)


def install(app: FastAPI, service: Ec2API) -> None:
    """Mount the EC2 API, served by `service`."""
    app.state.ec2 = service
    app.include_router(router)
