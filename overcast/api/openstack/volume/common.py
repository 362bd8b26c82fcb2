"""What every Block Storage route shares: the service, the negotiated microversion, JSON bodies, the
two URL forms (with and without the project id, accepted at every version as Cinder does), list
parameters and links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from fastapi import Depends, Request

from overcast.api.deps import get_context
from overcast.api.json_body import load_json
from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.volume.microversion import MIN_VERSION, STATE_KEY
from overcast.context import RequestContext
from overcast.digits import decimal
from overcast.errors import BadRequest, NotFound
from overcast.volume.api.service import VolumeAPI

ROOT = "/volume"
V3 = "/volume/v3"
# Routes are written once below this and mounted at both URL forms.
PROJECT_PREFIX = V3 + "/{project_id}"


async def project_in_path(project_id: str, ctxt: RequestContext = Depends(get_context)) -> None:
    """The URL's project must be the token's (Cinder's "Malformed request url"): the token's project is
    the one every request acts on, the URL only repeats it."""
    if project_id != ctxt.project_id:
        raise BadRequest(
            f"Malformed request url: URL's project_id '{project_id}' doesn't match Context's project_id "
            f"'{ctxt.project_id}'"
        )


def service(request: Request) -> VolumeAPI:
    volume_api: VolumeAPI = request.app.state.volume
    return volume_api


def version(request: Request) -> APIVersion:
    found: APIVersion = getattr(request.state, STATE_KEY, MIN_VERSION)
    return found


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        raise BadRequest("The server could not comply with the request since it is either malformed or "
                         "otherwise incorrect.")  # fmt: skip
    return load_json(raw)


def member(body: Any, key: str) -> dict[str, Any]:
    """The object under `key` of a request body (Cinder's 400 when it is missing or not an object)."""
    if not isinstance(body, Mapping) or not isinstance(body.get(key), Mapping):
        raise BadRequest(f"Missing required element '{key}' in request body.")
    return dict(body[key])


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("1", "true", "yes", "on", "t", "y")


def limit_param(request: Request) -> int | None:
    text = request.query_params.get("limit")
    if text is None:
        return None
    number = decimal(text)
    if number is None:
        raise BadRequest(f"Invalid input received: limit must be an integer 0 or greater, got {text!r}.")
    return number


def sort_param(request: Request, allowed: Mapping[str, str]) -> list[tuple[str, str]] | None:
    """Cinder's `sort=key:dir,key2` or the older sort_key/sort_dir pair."""
    params = request.query_params
    pairs: list[tuple[str, str]] = []
    if "sort" in params:
        for item in params["sort"].split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key.strip(), (direction or "desc").strip().lower()))
    elif "sort_key" in params:
        pairs.append((params["sort_key"], params.get("sort_dir", "desc").lower()))
    for key, direction in pairs:
        if key not in allowed:
            raise BadRequest(f"Invalid input received: Invalid sort key {key}.")
        if direction not in ("asc", "desc"):
            raise BadRequest(f"Invalid input received: Invalid sort direction {direction}.")
    return pairs or None


def next_link(
    request: Request, name: str, records: list[dict[str, Any]], limit: int | None
) -> dict[str, Any]:
    if not limit or len(records) < limit:
        return {}
    params = [(key, value) for key, value in request.query_params.multi_items() if key != "marker"]
    params.append(("marker", records[-1]["id"]))
    return {f"{name}_links": [{"rel": "next", "href": str(request.url.replace(query=urlencode(params)))}]}


def self_links(request: Request, collection: str, item_id: str) -> list[dict[str, str]]:
    base = str(request.base_url).rstrip("/")
    project = request.path_params.get("project_id")
    prefix = f"{base}{V3}/{project}" if project else f"{base}{V3}"
    return [
        {"href": f"{prefix}/{collection}/{item_id}", "rel": "self"},
        {"href": f"{base}{ROOT}/{collection}/{item_id}", "rel": "bookmark"},
    ]


class NotFoundAtVersion(NotFound):
    """A route the negotiated microversion does not have yet (Cinder's 404)."""

    default_message = "The resource could not be found."
