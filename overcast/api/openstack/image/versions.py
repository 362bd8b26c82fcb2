"""Image API version documents (Glance's: v2.0 ... v2.16, no microversion header)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from overcast.api.deps import get_settings
from overcast.api.versions import CURRENT, SUPPORTED, link, service_url
from overcast.config import Settings

# The minor versions Glance has announced; every one is served by the same /v2 routes.
LATEST_MINOR = 16

router = APIRouter()


def versions_document(settings: Settings) -> dict[str, Any]:
    href = service_url(settings, "image", "v2") + "/"
    return {
        "versions": [
            {
                "id": f"v2.{minor}",
                "status": CURRENT if minor == LATEST_MINOR else SUPPORTED,
                "links": [link(href)],
            }
            for minor in range(LATEST_MINOR, -1, -1)
        ]
    }


@router.get("/image")
@router.get("/image/")
def image_root(settings: Settings = Depends(get_settings)) -> JSONResponse:
    # Glance answers its root with 300 Multiple Choices.
    return JSONResponse(versions_document(settings), status_code=300)


@router.get("/image/versions")
def image_versions(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return versions_document(settings)
