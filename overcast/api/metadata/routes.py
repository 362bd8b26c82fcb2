"""Every metadata path is one route: the service walks its own trees, as Nova's handler does, so a path
no tree holds is the metadata service's plain 404 and never another API's error body."""

from __future__ import annotations

from http import HTTPStatus

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast import errors
from overcast.metadata.api import MetadataAPI
from overcast.metadata.documents import MetadataNotFound, render

PREFIX = "/metadata"
METHODS = ("GET", "HEAD")

router = APIRouter()


def _plain_error(error: errors.OvercastError) -> Response:
    # webob's text/plain error page, which is what Nova's metadata service answers.
    status = f"{error.status} {HTTPStatus(error.status).phrase}"
    return Response(f"{status}\n\n{error.message}\n", status_code=error.status, media_type="text/plain")


@router.api_route(PREFIX, methods=list(METHODS), include_in_schema=False)
@router.api_route(PREFIX + "/{path:path}", methods=list(METHODS), include_in_schema=False)
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
