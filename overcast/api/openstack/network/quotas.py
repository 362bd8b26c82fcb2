"""/networking/v2.0/quotas: list, show, update, reset a project's limits; its usage (details) and defaults."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.api.openstack.network.schemas import QuotaBody
from overcast.context import RequestContext
from overcast.network import policies
from overcast.network.api.service import NetworkAPI

router = APIRouter()


@router.get(policies.QUOTAS)
def list_quotas(
    ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"quotas": api.quota_api.list(ctxt)}


@router.get(policies.QUOTA)
def show_quota(
    project_id: str, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"quota": api.quota_api.limits(ctxt, project_id)}


@router.get(policies.QUOTA + "/details")
def show_quota_details(
    project_id: str, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"quota": api.quota_api.details(ctxt, project_id)}


@router.get(policies.QUOTA + "/default")
def show_quota_defaults(
    project_id: str, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> dict[str, Any]:
    return {"quota": api.quota_api.defaults(ctxt, project_id)}


@router.put(policies.QUOTA)
def update_quota(
    project_id: str,
    body: QuotaBody,
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"quota": api.quota_api.update(ctxt, project_id, body.quota)}


@router.delete(policies.QUOTA, status_code=204)
def reset_quota(
    project_id: str, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> Response:
    api.quota_api.reset(ctxt, project_id)
    return Response(status_code=204)
