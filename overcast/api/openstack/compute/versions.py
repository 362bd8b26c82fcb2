"""Compute version documents at /compute and /compute/v2.1 (no token needed: clients read them first)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast.api import versions
from overcast.api.deps import get_settings
from overcast.api.openstack.compute.microversion import MAX_VERSION, MIN_VERSION
from overcast.config import Settings

VERSION_ID = "v2.1"
MEDIA_TYPE = "application/vnd.openstack.compute+json;version=2.1"
# The date Nova gives its v2.1 API in version documents.
UPDATED = "2013-07-23T11:33:21Z"
# Nova still lists its v2.0 API (SUPPORTED, no microversions): discovery code that looks for it finds it.
LEGACY_ID = "v2.0"
LEGACY_UPDATED = "2011-01-21T11:33:21Z"

router = APIRouter()


def version_document(settings: Settings, *, full: bool) -> dict[str, Any]:
    links = [versions.link(versions.service_url(settings, "compute", VERSION_ID) + "/")]
    if full:
        links.append(versions.link(versions.DOCS_URL, rel="describedby", media_type="text/html"))
    return versions.version_doc(
        VERSION_ID, versions.CURRENT, min_version=str(MIN_VERSION), max_version=str(MAX_VERSION),
        links=links, media_types=[versions.media_type(MEDIA_TYPE)] if full else (), updated=UPDATED,
    )  # fmt: skip


def legacy_document(settings: Settings) -> dict[str, Any]:
    links = [versions.link(versions.service_url(settings, "compute", "v2") + "/")]
    return versions.version_doc(
        LEGACY_ID, versions.SUPPORTED, min_version="", max_version="", links=links, updated=LEGACY_UPDATED
    )


@router.get("/compute")
@router.get("/compute/")
def list_versions(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return {"versions": [legacy_document(settings), version_document(settings, full=False)]}


@router.get("/compute/v2")
@router.get("/compute/v2/")
def show_legacy_version(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return {"version": legacy_document(settings)}


@router.get("/compute/v2.1")
@router.get("/compute/v2.1/")
def show_version(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return {"version": version_document(settings, full=True)}
