"""Security groups with their rules, and floating IPs (allocate, associate with an instance's port,
disassociate, release): the Networking API's objects as the project sees them."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError, ProjectAPI
from overcast.dashboard.web import Dashboard, Form

PROTOCOLS = ("tcp", "udp", "icmp", "any")


def _port(form: Form, name: str) -> int | None:
    text = form.get(name)
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or not 0 <= int(text) <= 65535:
        raise APIError(400, f"A port must be a whole number from 0 to 65535, not {text!r}.")
    return int(text)


def rule_body(group_id: str, form: Form) -> dict[str, Any]:
    """Neutron's security group rule from the form: one port or a range, a CIDR or another group."""
    rule: dict[str, Any] = {
        "security_group_id": group_id,
        "direction": form.get("direction", "ingress") or "ingress",
        "ethertype": "IPv4",
    }
    protocol = form.get("protocol", "tcp") or "tcp"
    if protocol not in PROTOCOLS:
        raise APIError(400, f"Unknown protocol {protocol!r}.")
    if protocol != "any":
        rule["protocol"] = protocol
    low, high = _port(form, "port_range_min"), _port(form, "port_range_max")
    if protocol in ("tcp", "udp") and low is not None:
        rule["port_range_min"], rule["port_range_max"] = low, high if high is not None else low
    if form.get("remote_group_id"):
        rule["remote_group_id"] = form.get("remote_group_id")
    elif form.get("remote_ip_prefix"):
        rule["remote_ip_prefix"] = form.get("remote_ip_prefix")
    return {"security_group_rule": rule}


async def _groups(api: ProjectAPI) -> list[dict[str, Any]]:
    groups = await api.get("network", "/security-groups", {"project_id": api.login.project_id})
    return sorted(groups["security_groups"], key=lambda group: str(group["name"]))


async def _floating_ip_page(api: ProjectAPI) -> dict[str, Any]:
    floating, networks, ports, servers = await asyncio.gather(
        api.get("network", "/floatingips", {"project_id": api.login.project_id}),
        api.get("network", "/networks", {"router:external": "true"}),
        api.get("network", "/ports", {"project_id": api.login.project_id}),
        api.get("compute", "/servers", {"limit": 1000}),
    )
    names = {server["id"]: server["name"] for server in servers["servers"]}
    # The ports a floating IP can point at: an instance's, with the instance's name and address.
    targets = [
        {
            "id": port["id"],
            "label": f"{names.get(port['device_id'], port['device_id'])}: "
            f"{', '.join(ip['ip_address'] for ip in port.get('fixed_ips', []))}",
        }
        for port in ports["ports"]
        if str(port.get("device_owner", "")).startswith("compute:")
    ]
    by_port = {target["id"]: target["label"] for target in targets}
    return {
        "floating_ips": floating["floatingips"],
        "external_networks": networks["networks"],
        "targets": targets,
        "target_names": by_port,
    }


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/project")

    @pages.get("/security_groups/")
    async def group_list(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        return dashboard.render(request, "security_groups.html", groups=await _groups(signed.api))

    @pages.post("/security_groups/create")
    async def create_group(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        body = {"security_group": {"name": form.get("name"), "description": form.get("description")}}
        group = await signed.api.post("network", "/security-groups", body)
        return dashboard.redirect(request, f"/project/security_groups/{group['security_group']['id']}")

    @pages.get("/security_groups/{group_id}")
    async def group_detail(request: Request, group_id: str) -> Response:
        signed = dashboard.signed_in(request)
        group, groups = await asyncio.gather(
            signed.api.get("network", f"/security-groups/{group_id}"), _groups(signed.api)
        )
        return dashboard.render(
            request,
            "security_group.html",
            group=group["security_group"],
            groups=groups,
            protocols=PROTOCOLS,
            names={g["id"]: g["name"] for g in groups},
        )

    @pages.post("/security_groups/{group_id}/rules")
    async def add_rule(request: Request, group_id: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        await signed.api.post("network", "/security-group-rules", rule_body(group_id, form))
        return dashboard.redirect(request, f"/project/security_groups/{group_id}")

    @pages.post("/security_groups/{group_id}/rules/{rule_id}/delete")
    async def delete_rule(request: Request, group_id: str, rule_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("network", f"/security-group-rules/{rule_id}")
        return dashboard.redirect(request, f"/project/security_groups/{group_id}")

    @pages.post("/security_groups/{group_id}/delete")
    async def delete_group(request: Request, group_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("network", f"/security-groups/{group_id}")
        return dashboard.redirect(request, "/project/security_groups/")

    @pages.get("/floating_ips/")
    async def floating_ips(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        return dashboard.render(request, "floating_ips.html", **await _floating_ip_page(signed.api))

    @pages.post("/floating_ips/allocate")
    async def allocate(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        body = {"floatingip": {"floating_network_id": form.get("network")}}
        await signed.api.post("network", "/floatingips", body)
        return dashboard.redirect(request, "/project/floating_ips/")

    @pages.post("/floating_ips/{floating_ip_id}/associate")
    async def associate(request: Request, floating_ip_id: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        port = form.get("port") or None
        await signed.api.put("network", f"/floatingips/{floating_ip_id}", {"floatingip": {"port_id": port}})
        return dashboard.redirect(request, "/project/floating_ips/")

    @pages.post("/floating_ips/{floating_ip_id}/release")
    async def release(request: Request, floating_ip_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("network", f"/floatingips/{floating_ip_id}")
        return dashboard.redirect(request, "/project/floating_ips/")

    return pages
