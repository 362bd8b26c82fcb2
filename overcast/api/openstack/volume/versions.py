"""Discovery without a token: GET /volume/ (Cinder's 300 Multiple Choices) and GET /volume/v3/."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from overcast.api.deps import get_settings
from overcast.api.openstack.volume.common import ROOT, V3
from overcast.api.openstack.volume.microversion import MAX_VERSION, MIN_VERSION
from overcast.api.versions import CURRENT, DOCS_URL, link, media_type, version_doc
from overcast.config import Settings

router = APIRouter()
UPDATED = "2026-12-05T00:00:00Z"


def v3_document(settings: Settings) -> dict[str, Any]:
    return version_doc(
        "v3.0", CURRENT, str(MIN_VERSION), str(MAX_VERSION),
        links=[link(DOCS_URL, "describedby", "text/html"), link(f"{settings.base_url}{V3}/")],
        media_types=[media_type("application/vnd.openstack.volume+json;version=3")], updated=UPDATED,
    )  # fmt: skip


@router.get(ROOT)
@router.get(ROOT + "/", include_in_schema=False)
def list_versions(settings: Settings = Depends(get_settings)) -> JSONResponse:
    return JSONResponse({"versions": [v3_document(settings)]}, status_code=300)


@router.get(V3)
@router.get(V3 + "/", include_in_schema=False)
def show_v3(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return {"versions": [v3_document(settings)]}
