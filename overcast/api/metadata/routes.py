"""Every metadata path is one route: the service walks its own trees, as Nova's handler does, so a path
no tree holds is the metadata service's plain 404 and never another API's error body. A guest posts
only to a version's `password`."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from overcast import errors
from overcast.metadata.api import MetadataAPI
from overcast.metadata.documents import MetadataNotFound, is_password_path, render

PREFIX = "/metadata"
READS = ("GET", "HEAD")
METHODS = (*READS, "POST")

router = APIRouter()


def _plain_error(error: errors.OvercastError) -> Response:
    # webob's text/plain error page, which is what Nova's metadata service answers.
    status = f"{error.status} {HTTPStatus(error.status).phrase}"
    return Response(f"{status}\n\n{error.message}\n", status_code=error.status, media_type="text/plain")


@router.api_route(PREFIX, methods=list(READS), include_in_schema=False)
@router.api_route(PREFIX + "/{path:path}", methods=list(READS), include_in_schema=False)
def metadata(request: Request, path: str = "") -> Response:
    service: MetadataAPI = request.app.state.metadata
    try:
        facts = service.instance_for(request.headers)
        document = render(facts, path)
    except MetadataNotFound:
        return _plain_error(errors.NotFound("The resource could not be found."))
    except (errors.BadRequest, errors.Forbidden, errors.NotFound) as error:
        return _plain_error(error)
    return Response(document.body, media_type=document.content_type)


@router.post(PREFIX + "/{path:path}", include_in_schema=False)
async def post_password(request: Request, path: str) -> Response:
    service: MetadataAPI = request.app.state.metadata
    body = await request.body()
    try:
        facts = await run_in_threadpool(service.instance_for, request.headers)
        if not is_password_path(path):
            raise errors.MethodNotAllowed("Only a version's password takes a POST.")
        await run_in_threadpool(service.post_password, facts, body)
    except (errors.BadRequest, errors.Forbidden, errors.NotFound, errors.MethodNotAllowed,
            errors.Conflict) as error:  # fmt: skip
        return _plain_error(error)
    return Response(status_code=200)
