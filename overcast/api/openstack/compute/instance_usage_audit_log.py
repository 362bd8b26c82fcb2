"""/os-instance_usage_audit_log (admins): the instance usage audit of the last completed monthly period
(or the one before a given time), as Nova reports it. No Overcast host runs the audit task (Nova's
`instance_usage_audit` is off by default too), so every compute host is listed as not run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends

from overcast import errors, policy
from overcast.api.openstack.compute.admin_common import AdminRequest, admin_request
from overcast.compute import policies as rules
from overcast.compute.rpcapi import BINARY as COMPUTE_BINARY

router = APIRouter()

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def audit_period(before: datetime) -> tuple[datetime, datetime]:
    """The last whole month that ended at or before `before` (Nova's default audit period)."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    begin = end.replace(year=end.year - 1, month=12) if end.month == 1 else end.replace(month=end.month - 1)
    return begin, end


def _parse(before_timestamp: str) -> datetime:
    for shape in (TIME_FORMAT, TIME_FORMAT + ".%f"):
        try:
            return datetime.strptime(before_timestamp, shape).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise errors.BadRequest(f"Invalid timestamp for date {before_timestamp}")


def _report(req: AdminRequest, before: datetime) -> dict[str, Any]:
    begin, end = audit_period(before)
    hosts = sorted({service.host for service in req.admin.hosts.services(binary=COMPUTE_BINARY)})
    return {
        "instance_usage_audit_logs": {
            "hosts_not_run": hosts,
            "log": {},
            "num_hosts": len(hosts),
            "num_hosts_done": 0,
            "num_hosts_not_run": len(hosts),
            "num_hosts_running": 0,
            "overall_status": f"0 of {len(hosts)} hosts done. 0 errors.",
            "period_beginning": begin.strftime(TIME_FORMAT),
            "period_ending": end.strftime(TIME_FORMAT),
            "total_errors": 0,
            "total_instances": 0,
        }
    }


@router.get("/os-instance_usage_audit_log")
def list_audit_log(req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, rules.USAGE_AUDIT_LIST)
    return _report(req, datetime.now(UTC))


@router.get("/os-instance_usage_audit_log/{before_timestamp}")
def show_audit_log(before_timestamp: str, req: AdminRequest = Depends(admin_request)) -> dict[str, Any]:
    policy.enforce(req.context, rules.USAGE_AUDIT_SHOW)
    return _report(req, _parse(before_timestamp))
