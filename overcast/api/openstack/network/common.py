"""What every Networking v2 route shares: the service, list queries from the URL, `fields=`, page links."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from overcast.digits import decimal
from overcast.network.api.errors import InvalidInput
from overcast.network.api.queries import ListQuery
from overcast.network.api.records import Record
from overcast.network.api.service import NetworkAPI

PAGING_PARAMETERS = ("fields", "sort_key", "sort_dir", "limit", "marker", "page_reverse")


def service(request: Request) -> NetworkAPI:
    network_api: NetworkAPI = request.app.state.network
    return network_api


def if_match_revision(request: Request) -> int | None:
    """Neutron's revision-if-match: `If-Match: revision_number=N` changes or deletes only revision N."""
    header = request.headers.get("if-match")
    if header is None:
        return None
    name, _, value = header.strip().partition("=")
    number = decimal(value.strip())
    if name.strip() != "revision_number" or number is None:
        raise InvalidInput(f"If-Match header {header!r}: use revision_number=N.")
    return number


def list_query(request: Request) -> ListQuery:
    params = request.query_params
    keys, directions = params.getlist("sort_key"), params.getlist("sort_dir")
    if directions and len(directions) != len(keys):
        raise InvalidInput("The number of sort_keys and sort_dirs must be same")
    if params.get("page_reverse", "false").lower() not in ("false", "0"):
        raise InvalidInput("page_reverse is not supported: page forward with marker and limit.")
    limit = None
    if "limit" in params:
        limit = decimal(params["limit"])
        if limit is None:
            raise InvalidInput(
                f"Bad limit request: limit must be an integer 0 or greater, got {params['limit']!r}."
            )
    filters = {name: params.getlist(name) for name in params if name not in PAGING_PARAMETERS}
    return ListQuery(
        filters=filters,
        sort=tuple(zip(keys, directions or ["asc"] * len(keys), strict=True)),
        limit=limit,
        marker=params.get("marker"),
    )


def selected(record: Record, fields: Sequence[str]) -> Record:
    """`fields=` keeps only the named attributes (names the resource lacks are ignored, as Neutron does)."""
    return {name: value for name, value in record.items() if name in fields} if fields else record


def collection(request: Request, name: str, records: list[Record], query: ListQuery) -> dict[str, Any]:
    fields = request.query_params.getlist("fields")
    body: dict[str, Any] = {name: [selected(record, fields) for record in records]}
    if query.limit and len(records) == query.limit:
        params = [(key, value) for key, value in request.query_params.multi_items() if key != "marker"]
        params.append(("marker", records[-1]["id"]))
        body[f"{name}_links"] = [{"rel": "next", "href": f"{request.url.replace(query=urlencode(params))}"}]
    return body


def single(request: Request, name: str, record: Record) -> dict[str, Any]:
    return {name: selected(record, request.query_params.getlist("fields"))}
