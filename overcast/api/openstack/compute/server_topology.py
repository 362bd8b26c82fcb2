"""GET /servers/{id}/topology (from 2.78): the server's NUMA nodes, its host's numbers for admins.

No server here has a NUMA topology (neither virt driver pins CPUs or places memory per node), so the
answer is Nova's for such a server: no nodes and no page size.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from overcast import policy
from overcast.api.openstack.compute import version_history as v
from overcast.api.openstack.compute.common import ComputeRequest, compute_request, require_version
from overcast.compute import policies

router = APIRouter()


@router.get("/servers/{server_id}/topology")
def show_topology(server_id: str, req: ComputeRequest = Depends(compute_request)) -> dict[str, Any]:
    require_version(req, v.SERVER_TOPOLOGY)
    instance = req.service.servers.find(req.context, server_id)  # 404 before 403, as Nova
    policy.enforce(
        req.context,
        policies.SERVER_TOPOLOGY,
        {"project_id": instance.project_id, "user_id": req.context.user_id},
    )
    return {"nodes": [], "pagesize_kb": None}
