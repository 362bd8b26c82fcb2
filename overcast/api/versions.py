"""Version discovery: the cloud's root document and helpers for each service's version documents.

Version documents answer without a token: clients read them before they authenticate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Depends

from overcast.api.deps import get_settings
from overcast.config import Settings

CURRENT = "CURRENT"
SUPPORTED = "SUPPORTED"
# Keystone spells its current version's status this way and keystoneauth expects it.
STABLE = "stable"

DOCS_URL = "https://docs.openstack.org/"


@dataclass(frozen=True)
class ServiceRoot:
    """Where one OpenStack-shaped service lives under the API's base URL."""

    service_type: str
    path: str


# The services one Overcast API process serves, in the order the root document lists them.
SERVICE_ROOTS: tuple[ServiceRoot, ...] = (
    ServiceRoot("identity", "/identity"),
    ServiceRoot("compute", "/compute"),
    ServiceRoot("image", "/image"),
    ServiceRoot("volume", "/volume"),
    ServiceRoot("network", "/networking"),
)


def service_root(service_type: str) -> ServiceRoot:
    for root in SERVICE_ROOTS:
        if root.service_type == service_type:
            return root
    raise KeyError(service_type)


def service_url(settings: Settings, service_type: str, *parts: str) -> str:
    """Absolute URL of a service (or of `parts` below it), e.g. service_url(s, "compute", "v2.1")."""
    url = settings.base_url + service_root(service_type).path
    for part in parts:
        url += "/" + part.strip("/")
    return url


def link(href: str, rel: str = "self", media_type: str | None = None) -> dict[str, str]:
    document = {"rel": rel, "href": href}
    if media_type is not None:
        document["type"] = media_type
    return document


def media_type(service_media_type: str, base: str = "application/json") -> dict[str, str]:
    """e.g. media_type("application/vnd.openstack.compute+json;version=2.1")."""
    return {"base": base, "type": service_media_type}


def version_doc(
    id: str,
    status: str,
    min_version: str | None = None,
    max_version: str | None = None,
    links: Sequence[dict[str, str]] = (),
    media_types: Sequence[dict[str, str]] = (),
    updated: str = "2024-01-01T00:00:00Z",
) -> dict[str, Any]:
    """One entry of an OpenStack version document (the object under "version" or in "versions").

    Services with microversions pass min_version/max_version (rendered as "min_version"/"version", as
    Nova and Cinder do); services without them (Keystone, Glance, Neutron) leave both None and the keys
    are omitted, since strict clients read an empty "version" as a malformed microversion.
    """
    document: dict[str, Any] = {"id": id, "status": status, "updated": updated, "links": list(links)}
    if min_version is not None or max_version is not None:
        document["version"] = max_version or ""
        document["min_version"] = min_version or ""
    if media_types:
        document["media-types"] = list(media_types)
    return document


def root_document(settings: Settings) -> dict[str, Any]:
    return {
        "services": [
            {"type": root.service_type, "links": [link(service_url(settings, root.service_type))]}
            for root in SERVICE_ROOTS
        ]
    }


router = APIRouter()


@router.get("/")
def list_service_roots(settings: Settings = Depends(get_settings)) -> dict[str, Any]:
    return root_document(settings)
