"""/networking/v2.0/auto-allocated-topology/{project_id}: get-me-a-network (GET makes it at first;
?fields=dry-run only checks it could be made) and its DELETE."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response

from overcast.api.deps import get_context
from overcast.api.openstack.network import common
from overcast.context import RequestContext
from overcast.network import policies
from overcast.network.api.service import NetworkAPI

router = APIRouter()


# Neutron's AutoAllocationFailure: no default external network, or the project's topology cannot be made.
NO_TOPOLOGY: dict[int | str, dict[str, Any]] = {
    409: {"description": "The cloud cannot make the project's topology (Deployment error)."}
}


@router.get(policies.AUTO_ALLOCATED_TOPOLOGY, responses=NO_TOPOLOGY)
def get_auto_allocated_topology(
    project_id: str,
    fields: list[str] = Query(default=[]),
    ctxt: RequestContext = Depends(get_context),
    api: NetworkAPI = Depends(common.service),
) -> dict[str, Any]:
    return {"auto_allocated_topology": api.auto_topology.get(ctxt, project_id, fields)}


@router.delete(policies.AUTO_ALLOCATED_TOPOLOGY, status_code=204)
def delete_auto_allocated_topology(
    project_id: str, ctxt: RequestContext = Depends(get_context), api: NetworkAPI = Depends(common.service)
) -> Response:
    api.auto_topology.delete(ctxt, project_id)
    return Response(status_code=204)
