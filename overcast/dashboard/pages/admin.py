"""The operator's pages (admin role): hypervisors with their use as bars, compute services (enable and
disable), and every project's instances with their host. The APIs refuse a member too; the pages refuse
first, with a page that says so."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError
from overcast.dashboard.pages.instances import addresses, list_servers
from overcast.dashboard.pages.project import QuotaBar
from overcast.dashboard.web import Dashboard, Form, SignedIn

# The last microversion whose hypervisor bodies carry their resources (2.88 leaves them to placement).
HYPERVISOR_RESOURCES_VERSION = "compute 2.87"


def admin_only(dashboard: Dashboard, request: Request) -> SignedIn:
    signed = dashboard.signed_in(request)
    if not signed.session.login.is_admin:
        raise APIError(403, "This page is for administrators of the cloud.")
    return signed


def hypervisor_bars(hypervisor: dict[str, Any]) -> list[QuotaBar]:
    return [
        QuotaBar("vCPUs", hypervisor["vcpus_used"], hypervisor["vcpus"]),
        QuotaBar("RAM", hypervisor["memory_mb_used"], hypervisor["memory_mb"], " MiB"),
        QuotaBar("Disk", hypervisor["local_gb_used"], hypervisor["local_gb"], " GiB"),
    ]


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/admin")

    @pages.get("/hypervisors/")
    async def hypervisors(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        body = await signed.api.get("compute", "/os-hypervisors/detail", version=HYPERVISOR_RESOURCES_VERSION)
        found = sorted(body["hypervisors"], key=lambda hypervisor: str(hypervisor["hypervisor_hostname"]))
        return dashboard.render(request, "admin_hypervisors.html", hypervisors=found, bars=hypervisor_bars)

    @pages.get("/services/")
    async def services(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        found = (await signed.api.get("compute", "/os-services"))["services"]
        found.sort(key=lambda service: (str(service["binary"]), str(service["host"])))
        return dashboard.render(request, "admin_services.html", services=found)

    @pages.post("/services/{service_id}/status")
    async def set_service_status(request: Request, service_id: str) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        if form.get("status") == "disabled":
            reason = form.get("reason") or f"Disabled by {signed.session.login.user_name} from the dashboard"
            body: dict[str, Any] = {"status": "disabled", "disabled_reason": reason}
        else:
            body = {"status": "enabled"}
        await signed.api.put("compute", f"/os-services/{service_id}", body)
        return dashboard.redirect(request, "/admin/services/")

    @pages.get("/instances/")
    async def all_instances(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        listing, projects = await asyncio.gather(
            list_servers(signed.api, request, {"all_tenants": "1"}),
            signed.api.get("identity", "/projects"),
        )
        names = {project["id"]: project["name"] for project in projects["projects"]}
        return dashboard.render(
            request, "admin_instances.html", listing=listing, project_names=names, addresses=addresses
        )

    @pages.get("/flavors/")
    async def flavors(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        found = (await signed.api.get("compute", "/flavors/detail", {"is_public": "None"}))["flavors"]
        found.sort(key=lambda flavor: (flavor["vcpus"], flavor["ram"], str(flavor["name"])))
        return dashboard.render(request, "admin_flavors.html", flavors=found, error="")

    @pages.post("/flavors/create")
    async def create_flavor(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        body, extra_specs, projects = flavor_request(form)
        made = (await signed.api.post("compute", "/flavors", body))["flavor"]
        if extra_specs:
            await signed.api.post(
                "compute", f"/flavors/{made['id']}/os-extra_specs", {"extra_specs": extra_specs}
            )
        for project in projects:
            await signed.api.post(
                "compute", f"/flavors/{made['id']}/action", {"addTenantAccess": {"tenant": project}}
            )
        return dashboard.redirect(request, "/admin/flavors/")

    @pages.post("/flavors/{flavor_id}/delete")
    async def delete_flavor(request: Request, flavor_id: str) -> Response:
        signed = admin_only(dashboard, request)
        await dashboard.form(request, signed)
        await signed.api.delete("compute", f"/flavors/{flavor_id}")
        return dashboard.redirect(request, "/admin/flavors/")

    @pages.get("/aggregates/")
    async def aggregates(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        found, zones, services = await asyncio.gather(
            signed.api.get("compute", "/os-aggregates"),
            signed.api.get("compute", "/os-availability-zone/detail"),
            signed.api.get("compute", "/os-services", {"binary": "nova-compute"}),
        )
        return dashboard.render(
            request,
            "admin_aggregates.html",
            aggregates=sorted(found["aggregates"], key=lambda aggregate: str(aggregate["name"])),
            zones=zones["availabilityZoneInfo"],
            compute_hosts=sorted({str(service["host"]) for service in services["services"]}),
        )

    @pages.get("/identity/")
    async def identity(request: Request) -> Response:
        """Projects, users, groups and who holds which role where (Keystone's role assignments)."""
        signed = admin_only(dashboard, request)
        projects, users, groups, roles, assignments = await asyncio.gather(
            signed.api.get("identity", "/projects"),
            signed.api.get("identity", "/users"),
            signed.api.get("identity", "/groups"),
            signed.api.get("identity", "/roles"),
            signed.api.get("identity", "/role_assignments", {"include_names": "true"}),
        )
        members = await asyncio.gather(
            *(signed.api.get("identity", f"/groups/{group['id']}/users") for group in groups["groups"])
        )
        return dashboard.render(
            request,
            "admin_identity.html",
            projects=sorted(projects["projects"], key=lambda project: str(project["name"])),
            users=sorted(users["users"], key=lambda user: str(user["name"])),
            groups=sorted(groups["groups"], key=lambda group: str(group["name"])),
            members={
                group["id"]: sorted(found["users"], key=lambda user: str(user["name"]))
                for group, found in zip(groups["groups"], members, strict=True)
            },
            roles=sorted(roles["roles"], key=lambda role: str(role["name"])),
            assignments=assignments["role_assignments"],
        )

    @pages.get("/quotas/")
    async def quota_projects(request: Request) -> Response:
        signed = admin_only(dashboard, request)
        projects = (await signed.api.get("identity", "/projects"))["projects"]
        projects.sort(key=lambda project: str(project["name"]))
        return dashboard.render(request, "admin_quota_projects.html", projects=projects)

    @pages.get("/quotas/{project_id}")
    async def project_quotas(request: Request, project_id: str) -> Response:
        signed = admin_only(dashboard, request)
        project, rows = await asyncio.gather(
            signed.api.get("identity", f"/projects/{project_id}"), quota_rows(signed, project_id)
        )
        return dashboard.render(request, "admin_quotas.html", project=project["project"], rows=rows)

    @pages.post("/quotas/{project_id}")
    async def set_project_quotas(request: Request, project_id: str) -> Response:
        signed = admin_only(dashboard, request)
        form = await dashboard.form(request, signed)
        limits = {row.key: _limit(form, row.key, row.label) for row in QUOTAS}
        by_service: dict[str, dict[str, int]] = {}
        for row in QUOTAS:
            by_service.setdefault(row.service, {})[row.api_name] = limits[row.key]
        await asyncio.gather(
            signed.api.put("compute", f"/os-quota-sets/{project_id}", {"quota_set": by_service["compute"]}),
            signed.api.put("volume", f"/os-quota-sets/{project_id}", {"quota_set": by_service["volume"]}),
            signed.api.put("network", f"/quotas/{project_id}", {"quota": by_service["network"]}),
        )
        return dashboard.redirect(request, f"/admin/quotas/{project_id}")

    return pages


@dataclass(frozen=True)
class QuotaRow:
    key: str  # the form field
    label: str
    service: str
    api_name: str
    used: int = 0
    limit: int = -1


QUOTAS = (
    QuotaRow("instances", "Instances", "compute", "instances"),
    QuotaRow("cores", "vCPUs", "compute", "cores"),
    QuotaRow("ram", "RAM (MiB)", "compute", "ram"),
    QuotaRow("volumes", "Volumes", "volume", "volumes"),
    QuotaRow("gigabytes", "Volume storage (GiB)", "volume", "gigabytes"),
    QuotaRow("floatingip", "Floating IPs", "network", "floatingip"),
    QuotaRow("security_group", "Security groups", "network", "security_group"),
)


async def quota_rows(signed: SignedIn, project_id: str) -> list[QuotaRow]:
    compute, volume, network = await asyncio.gather(
        signed.api.get("compute", f"/os-quota-sets/{project_id}/detail"),
        signed.api.get("volume", f"/os-quota-sets/{project_id}", {"usage": "true"}),
        signed.api.get("network", f"/quotas/{project_id}/details"),
    )
    usage = {
        "compute": {
            key: (value["in_use"], value["limit"])
            for key, value in compute["quota_set"].items()
            if isinstance(value, dict)
        },
        "volume": {
            key: (value["in_use"], value["limit"])
            for key, value in volume["quota_set"].items()
            if isinstance(value, dict)
        },
        "network": {key: (value["used"], value["limit"]) for key, value in network["quota"].items()},
    }
    return [
        replace(row, used=usage[row.service][row.api_name][0], limit=usage[row.service][row.api_name][1])
        for row in QUOTAS
    ]


def _limit(form: Form, name: str, label: str) -> int:
    text = form.get(name)
    if text == "-1":
        return -1
    return _count(form, name, label)


def _count(form: Form, name: str, label: str) -> int:
    text = form.get(name)
    if not text.isascii() or not text.isdigit():
        raise APIError(400, f"{label} must be a whole number.")
    return int(text)


def flavor_request(form: Form) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """Nova's flavor create body, its extra specs (`key=value` a line) and the projects a private flavor
    is given to (one a line)."""
    public = form.get("public") == "on"
    flavor = {
        "name": form.get("name"),
        "vcpus": _count(form, "vcpus", "vCPUs"),
        "ram": _count(form, "ram", "RAM"),
        "disk": _count(form, "disk", "Disk"),
        "os-flavor-access:is_public": public,
    }
    extra_specs = key_values(form.get("extra_specs"), "Extra spec")
    projects = [] if public else [line.strip() for line in form.get("projects").splitlines() if line.strip()]
    return {"flavor": flavor}, extra_specs, projects


def key_values(text: str, what: str) -> dict[str, str]:
    """`key=value` a line (blank lines skipped), as the flavor and aggregate forms take them."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise APIError(400, f"{what} line {line.strip()!r} is not key=value.")
        found[key.strip()] = value.strip()
    return found
