"""GET /flavors/{flavor_id}/os-scheduler-explain: why a flavor has no valid host (or which hosts it has).

Nova has no such call (its operators read the scheduler's debug log); this is Overcast's, in Nova's
manner: an `os-` sub-resource of the flavor, admin-only by its policy, its body under one top-level key.
It is the scheduler's dry run (`overcast manage scheduler explain`): nothing is claimed or sent. The
optional query parameters shape the request as a boot would: `image_id`, `availability_zone` and the
`project_id` the boot would come from (tenant isolation filters).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from overcast import errors, policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request, bounded_string
from overcast.compute import policies
from overcast.scheduler.explain import Explanation

router = APIRouter()

QUERY_PARAMETERS = ("image_id", "availability_zone", "project_id")


def _optional(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    return None if value is None or value == "" else bounded_string(name, value)


def view(found: Explanation) -> dict[str, Any]:
    return {
        "scheduler_explanation": {
            "flavor": {
                "id": found.flavor_id,
                "name": found.flavor_name,
                "vcpus": found.vcpus,
                "ram": found.memory_mb,
                "disk": found.disk_gb,
            },
            "image_id": found.image_id,
            "preset": found.preset,
            "hosts_known": found.hosts_known,
            "filters": [
                {
                    "name": report.name,
                    "hosts_before": report.before,
                    "hosts_rejected": report.rejected,
                    "detail": report.detail,
                }
                for report in found.filters
            ],
            "hosts_passing": found.passing,
            "hosts": [{"host": host, "hypervisor_hostname": node} for host, node in found.chosen],
            "no_valid_host": found.no_valid_host,
        }
    }


@router.get("/flavors/{flavor_id}/os-scheduler-explain")
def explain_flavor(
    flavor_id: str, request: Request, req: AdminRequest = Depends(admin_request)
) -> dict[str, Any]:
    policy.enforce(req.context, policies.SCHEDULER_EXPLAIN)
    unknown = sorted(set(request.query_params) - set(QUERY_PARAMETERS))
    if unknown:
        raise errors.BadRequest(f"Invalid query parameters: {', '.join(unknown)}.")
    found = req.admin.scheduler.explain(
        flavor_id,
        _optional(request, "image_id"),
        availability_zone=_optional(request, "availability_zone"),
        project_id=_optional(request, "project_id") or "",
    )
    return view(found)
