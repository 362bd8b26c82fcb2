"""Standard tags: /networking/v2.0/{networks,subnets,ports}/{id}/tags[/{tag}]."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import TagsBody
from overcast.context import RequestContext
from overcast.network.api.service import NetworkAPI
from overcast.network.policies import TAGGED_COLLECTIONS

router = APIRouter()


def _add_routes(collection: str) -> None:
    tags_path = f"/networking/v2.0/{collection}/{{resource_id}}/tags"
    tag_path = tags_path + "/{tag}"

    @router.get(tags_path, name=f"list_{collection}_tags")
    def list_tags(
        resource_id: str,
        ctxt: RequestContext = Depends(get_context),
        api: NetworkAPI = Depends(common.service),
    ) -> dict[str, Any]:
        return {"tags": api.tags.get(ctxt, collection, resource_id)}

    @router.get(tag_path, status_code=204, name=f"check_{collection}_tag")
    def check_tag(
        resource_id: str,
        tag: str,
        ctxt: RequestContext = Depends(get_context),
        api: NetworkAPI = Depends(common.service),
    ) -> Response:
        api.tags.check(ctxt, collection, resource_id, tag)
        return Response(status_code=204)

    @router.put(tags_path, name=f"replace_{collection}_tags")
    def replace_tags(
        resource_id: str,
        body: TagsBody,
        ctxt: RequestContext = Depends(get_context),
        api: NetworkAPI = Depends(common.service),
    ) -> dict[str, Any]:
        return {"tags": api.tags.replace(ctxt, collection, resource_id, body.tags)}

    @router.put(tag_path, status_code=201, name=f"add_{collection}_tag")
    def add_tag(
        resource_id: str,
        tag: str,
        ctxt: RequestContext = Depends(get_context),
        api: NetworkAPI = Depends(common.service),
    ) -> Response:
        api.tags.add(ctxt, collection, resource_id, tag)
        return Response(status_code=201)

    @router.delete(tags_path, status_code=204, name=f"remove_{collection}_tags")
    def remove_tags(
        resource_id: str,
        ctxt: RequestContext = Depends(get_context),
        api: NetworkAPI = Depends(common.service),
    ) -> Response:
        api.tags.remove(ctxt, collection, resource_id, None)
        return Response(status_code=204)

    @router.delete(tag_path, status_code=204, name=f"remove_{collection}_tag")
    def remove_tag(
        resource_id: str,
        tag: str,
        ctxt: RequestContext = Depends(get_context),
        api: NetworkAPI = Depends(common.service),
    ) -> Response:
        api.tags.remove(ctxt, collection, resource_id, tag)
        return Response(status_code=204)


for _collection in TAGGED_COLLECTIONS:
    _add_routes(_collection)
