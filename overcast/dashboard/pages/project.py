"""The project overview: how much of each quota the project uses, as bars."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError, ProjectAPI
from overcast.dashboard.web import Dashboard


@dataclass(frozen=True)
class QuotaBar:
    label: str
    used: int
    limit: int  # -1: unlimited
    unit: str = ""

    @property
    def percent(self) -> int:
        if self.limit <= 0:
            return 0 if self.limit < 0 or self.used == 0 else 100
        return min(100, round(100 * self.used / self.limit))

    @property
    def limit_text(self) -> str:
        return "unlimited" if self.limit < 0 else f"{self.limit:,}{self.unit}"


async def _compute_bars(api: ProjectAPI) -> list[QuotaBar]:
    absolute = (await api.get("compute", "/limits"))["limits"]["absolute"]
    return [
        QuotaBar("Instances", absolute["totalInstancesUsed"], absolute["maxTotalInstances"]),
        QuotaBar("vCPUs", absolute["totalCoresUsed"], absolute["maxTotalCores"]),
        QuotaBar("RAM", absolute["totalRAMUsed"], absolute["maxTotalRAMSize"], " MiB"),
    ]


async def _volume_bars(api: ProjectAPI) -> list[QuotaBar]:
    project = api.login.project_id
    quotas = (await api.get("volume", f"/os-quota-sets/{project}", {"usage": "true"}))["quota_set"]
    return [
        QuotaBar("Volumes", quotas["volumes"]["in_use"], quotas["volumes"]["limit"]),
        QuotaBar("Volume storage", quotas["gigabytes"]["in_use"], quotas["gigabytes"]["limit"], " GiB"),
    ]


async def _network_bars(api: ProjectAPI) -> list[QuotaBar]:
    project = api.login.project_id
    quotas = (await api.get("network", f"/quotas/{project}/details"))["quota"]
    return [
        QuotaBar("Floating IPs", quotas["floatingip"]["used"], quotas["floatingip"]["limit"]),
        QuotaBar("Security groups", quotas["security_group"]["used"], quotas["security_group"]["limit"]),
    ]


async def quota_bars(api: ProjectAPI) -> tuple[list[QuotaBar], list[str]]:
    """Every service's bars, read at once; a service that refuses leaves its message instead."""
    results = await asyncio.gather(
        _compute_bars(api), _volume_bars(api), _network_bars(api), return_exceptions=True
    )
    bars: list[QuotaBar] = []
    problems: list[str] = []
    for result in results:
        if isinstance(result, APIError):
            problems.append(result.message)
        elif isinstance(result, BaseException):
            raise result
        else:
            bars.extend(result)
    return bars, problems


@dataclass(frozen=True)
class UsageDay:
    day: date
    vcpu_hours: float
    height: int  # of its bar, in the chart's pixels


CHART_DAYS = 7
CHART_HEIGHT = 120


async def usage_by_day(api: ProjectAPI, today: date) -> list[UsageDay]:
    """vCPU-hours of each of the last CHART_DAYS days (today so far included), one usage report a day."""
    days = [today - timedelta(days=back) for back in range(CHART_DAYS - 1, -1, -1)]

    async def vcpu_hours(day: date) -> float:
        end = day + timedelta(days=1)
        query = {
            "start": f"{day.isoformat()}T00:00:00",
            "end": f"{end.isoformat()}T00:00:00",
            "detailed": "0",
        }
        usage = (await api.get("compute", f"/os-simple-tenant-usage/{api.login.project_id}", query))[
            "tenant_usage"
        ]
        return float(usage.get("total_vcpus_usage") or 0.0)

    hours = await asyncio.gather(*(vcpu_hours(day) for day in days))
    top = max(hours) or 1.0
    return [
        UsageDay(day, used, round(CHART_HEIGHT * used / top)) for day, used in zip(days, hours, strict=True)
    ]


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter()

    @pages.get("/")
    async def home(request: Request) -> Response:
        dashboard.signed_in(request)
        return dashboard.redirect(request, "/project/")

    @pages.get("/project/")
    async def overview(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        (bars, problems), usage = await asyncio.gather(
            quota_bars(signed.api), usage_by_day(signed.api, dashboard.sessions.clock().date())
        )
        return dashboard.render(
            request, "overview.html", bars=bars, problems=problems, usage=usage, chart_height=CHART_HEIGHT
        )

    return pages
