"""/rating routes: thin, each hands its query string to RatingReports (overcast.billing.cloudkitty)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast.api.deps import get_context
from overcast.billing.cloudkitty import RatingReports
from overcast.context import RequestContext

ROOT = "/rating"
V2 = f"{ROOT}/v2"

router = APIRouter()


def service(request: Request) -> RatingReports:
    reports: RatingReports = request.app.state.rating
    return reports


@router.get(ROOT)
def versions(request: Request) -> dict[str, Any]:
    base = request.app.state.settings.base_url.rstrip("/")
    return {
        "versions": [{"id": "v2", "status": "CURRENT", "links": [{"rel": "self", "href": f"{base}{V2}"}]}]
    }


@router.get(f"{V2}/summary")
def summary(
    request: Request, ctxt: RequestContext = Depends(get_context), reports: RatingReports = Depends(service)
) -> dict[str, Any]:
    # Repeated parameters (groupby, filters) are CloudKitty's: the whole query string goes through.
    return reports.summary(ctxt, request.query_params.multi_items())


@router.get(f"{V2}/dataframes")
def dataframes(
    request: Request, ctxt: RequestContext = Depends(get_context), reports: RatingReports = Depends(service)
) -> dict[str, Any]:
    return reports.dataframes(ctxt, request.query_params.multi_items())
