"""Instances: the list (self-updating while something changes), row actions, the launch wizard, the detail
page and the serial console."""

from __future__ import annotations

import asyncio
import base64
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup, escape

from overcast.dashboard.client import APIError, ProjectAPI
from overcast.dashboard.paging import Order, Page, fetch_page
from overcast.dashboard.web import Dashboard, Form, SignedIn

PAGE_SIZE = 20
# Nova's own default order (newest first), spelled out so that a previous page can reverse it.
SERVER_ORDER = Order(
    {"sort_key": "created_at", "sort_dir": "desc"}, {"sort_key": "created_at", "sort_dir": "asc"}
)
# Statuses a server leaves by itself: while one is shown, the list asks for fresh rows every few seconds.
_TRANSITIONAL = frozenset(
    {"BUILD", "REBUILD", "RESIZE", "REBOOT", "HARD_REBOOT", "MIGRATING", "PASSWORD", "SHELVED"}
)
_FILTERABLE_STATUSES = (
    "ACTIVE",
    "BUILD",
    "SHUTOFF",
    "PAUSED",
    "SUSPENDED",
    "ERROR",
    "VERIFY_RESIZE",
    "SHELVED_OFFLOADED",
    "RESCUE",
)


@dataclass(frozen=True)
class Action:
    """A row action: its label, the statuses it is offered in, and the body the compute API takes."""

    name: str
    label: str
    statuses: frozenset[str]
    body: Callable[[Form], dict[str, Any]] | None  # None: DELETE the server
    fields: str = ""  # the template of its extra fields; empty: it posts straight from the row menu
    danger: bool = False


def _plain(key: str) -> Callable[[Form], dict[str, Any]]:
    return lambda form: {key: None}


def _reboot(kind: str) -> Callable[[Form], dict[str, Any]]:
    return lambda form: {"reboot": {"type": kind}}


_RUNNING = frozenset({"ACTIVE"})
_STOPPED = frozenset({"SHUTOFF"})
_UP = _RUNNING | _STOPPED
ACTIONS: dict[str, Action] = {
    action.name: action
    for action in (
        Action("start", "Start", _STOPPED, _plain("os-start")),
        Action("stop", "Shut off", _RUNNING | {"ERROR"}, _plain("os-stop")),
        Action("reboot-soft", "Soft reboot", _RUNNING, _reboot("SOFT")),
        Action(
            "reboot-hard", "Hard reboot", _UP | {"ERROR", "PAUSED", "SUSPENDED", "REBOOT"}, _reboot("HARD")
        ),
        Action("pause", "Pause", _RUNNING, _plain("pause")),
        Action("unpause", "Unpause", frozenset({"PAUSED"}), _plain("unpause")),
        Action("suspend", "Suspend", _RUNNING, _plain("suspend")),
        Action("resume", "Resume", frozenset({"SUSPENDED"}), _plain("resume")),
        Action("lock", "Lock", _UP | {"PAUSED", "SUSPENDED", "SHELVED_OFFLOADED"}, _plain("lock")),
        Action(
            "unlock", "Unlock", _UP | {"PAUSED", "SUSPENDED", "SHELVED_OFFLOADED", "ERROR"}, _plain("unlock")
        ),
        Action("resize", "Resize", _UP, lambda form: {"resize": {"flavorRef": form.get("flavor")}}, "resize"),
        Action("confirm-resize", "Confirm resize", frozenset({"VERIFY_RESIZE"}), _plain("confirmResize")),
        Action("revert-resize", "Revert resize", frozenset({"VERIFY_RESIZE"}), _plain("revertResize")),
        Action(
            "rebuild",
            "Rebuild",
            _UP | {"ERROR"},
            lambda form: {"rebuild": {"imageRef": form.get("image")}},
            "rebuild",
        ),
        Action(
            "snapshot",
            "Create snapshot",
            _UP | {"PAUSED", "SUSPENDED"},
            lambda form: {"createImage": {"name": form.get("name")}},
            "snapshot",
        ),
        Action("shelve", "Shelve", _UP | {"PAUSED", "SUSPENDED"}, _plain("shelve")),
        Action("unshelve", "Unshelve", frozenset({"SHELVED", "SHELVED_OFFLOADED"}), _plain("unshelve")),
        Action("rescue", "Rescue", _UP | {"ERROR"}, lambda form: {"rescue": None}),
        Action("unrescue", "Unrescue", frozenset({"RESCUE"}), _plain("unrescue")),
        Action("delete", "Delete", frozenset(), None, danger=True),
    )
}


def actions_for(server: dict[str, Any]) -> list[Action]:
    status = server.get("status", "")
    locked = bool(server.get("locked"))
    offered = []
    for action in ACTIONS.values():
        if action.name == "delete" or status in action.statuses:
            if (action.name == "lock" and locked) or (action.name == "unlock" and not locked):
                continue
            offered.append(action)
    return offered


def is_changing(server: dict[str, Any]) -> bool:
    return server.get("status") in _TRANSITIONAL or bool(server.get("OS-EXT-STS:task_state"))


@functools.lru_cache(maxsize=128)
def _menu_items(actions: tuple[Action, ...]) -> str:
    """The row menu's items for one set of actions, `{base}` where the server's URL goes. A page's rows
    share a few sets; building every row's items in the template took longer than the rest of the page."""
    items = []
    for action in actions:
        name, label = escape(action.name), escape(action.label)
        if action.fields:
            items.append(f'<li><a href="{{base}}/action/{name}">{label}</a></li>')
        else:
            danger = ' class="danger"' if action.danger else ""
            button = f'<button type="submit" name="action" value="{name}"{danger}>{label}</button>'
            items.append(f"<li>{button}</li>")
    return "".join(items)


def menu_items(actions: list[Action], base: str) -> Markup:
    return Markup(_menu_items(tuple(actions)).replace("{base}", str(escape(base))))


def addresses(server: dict[str, Any]) -> list[str]:
    return [entry["addr"] for entries in server.get("addresses", {}).values() for entry in entries]


@dataclass(frozen=True)
class Listing:
    servers: list[dict[str, Any]]
    query: dict[str, str]  # the filters, without the page's marker or before
    next_marker: str | None
    previous_before: str | None

    @property
    def changing(self) -> bool:
        return any(is_changing(server) for server in self.servers)

    def link(self, **changes: str | None) -> str:
        query = {**self.query, **changes}
        return urlencode({key: value for key, value in query.items() if value})


async def list_servers(api: ProjectAPI, request: Request, query: dict[str, str] | None = None) -> Listing:
    """A page of the project's servers (`query`: more of the servers/detail call's parameters)."""
    wanted = {key: request.query_params.get(key, "").strip() for key in ("name", "status")}
    if wanted["status"] and wanted["status"] not in _FILTERABLE_STATUSES:
        raise APIError(400, f"Unknown status filter {wanted['status']!r}.")

    async def fetch(order: Any) -> list[dict[str, Any]]:
        body = await api.get("compute", "/servers/detail", {**(query or {}), **wanted, **order})
        return list(body["servers"])

    page: Page = await fetch_page(
        fetch,
        SERVER_ORDER,
        PAGE_SIZE,
        marker=request.query_params.get("marker", "").strip(),
        before=request.query_params.get("before", "").strip(),
    )
    return Listing(page.rows, wanted, page.next_marker, page.previous_before)


async def launch_choices(api: ProjectAPI) -> dict[str, Any]:
    flavors, images, keypairs, networks, groups = await asyncio.gather(
        api.get("compute", "/flavors/detail"),
        api.get("image", "/images", {"status": "active", "limit": 200}),
        api.get("compute", "/os-keypairs"),
        api.get("network", "/networks"),
        api.get("network", "/security-groups", {"project_id": api.login.project_id}),
    )
    return {
        "flavors": sorted(
            flavors["flavors"], key=lambda flavor: (flavor["vcpus"], flavor["ram"], flavor["name"])
        ),
        "images": sorted(images["images"], key=lambda image: str(image.get("name") or image["id"])),
        "keypairs": [entry["keypair"] for entry in keypairs["keypairs"]],
        "networks": [network for network in networks["networks"] if not network.get("router:external")],
        "security_groups": groups["security_groups"],
    }


def launch_body(form: Form) -> dict[str, Any]:
    try:
        count = int(form.get("count", "1") or "1")
    except ValueError:
        raise APIError(400, "The instance count must be a whole number.") from None
    if count < 1:
        raise APIError(400, "The instance count must be at least 1.")
    server: dict[str, Any] = {
        "name": form.get("name"),
        "imageRef": form.get("image"),
        "flavorRef": form.get("flavor"),
        "min_count": count,
        "max_count": count,
        "networks": [{"uuid": network} for network in form.all("network")] or "auto",
    }
    if form.get("key_name"):
        server["key_name"] = form.get("key_name")
    admin_password = form.fields.get("admin_password", [""])[0]
    if admin_password:
        server["adminPass"] = admin_password
    groups = form.all("security_group")
    if groups:
        server["security_groups"] = [{"name": group} for group in groups]
    user_data = form.fields.get("user_data", [""])[0]
    if user_data:
        server["user_data"] = base64.b64encode(user_data.encode()).decode()
    return {"server": server}


async def server_details(api: ProjectAPI, server_id: str) -> dict[str, Any]:
    server, attachments, actions = await asyncio.gather(
        api.get("compute", f"/servers/{server_id}"),
        api.get("compute", f"/servers/{server_id}/os-volume_attachments"),
        api.get("compute", f"/servers/{server_id}/os-instance-actions", {"limit": 10}),
    )
    recent = actions["instanceActions"]
    detailed = await asyncio.gather(
        *(
            api.get("compute", f"/servers/{server_id}/os-instance-actions/{action['request_id']}")
            for action in recent
        )
    )
    try:
        console = await api.post(
            "compute", f"/servers/{server_id}/action", {"os-getConsoleOutput": {"length": 50}}
        )
        console_log = console["output"]
    except APIError as refusal:
        console_log = f"({refusal.message})"
    return {
        "server": server["server"],
        "attachments": attachments["volumeAttachments"],
        "actions": [entry["instanceAction"] for entry in detailed],
        "console_log": console_log,
    }


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/project/instances")
    dashboard.templates.globals["menu_items"] = menu_items

    @pages.get("/")
    async def instance_list(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        listing = await list_servers(signed.api, request)
        template = "instance_rows.html" if request.query_params.get("rows") else "instances.html"
        return dashboard.render(
            request,
            template,
            listing=listing,
            statuses=_FILTERABLE_STATUSES,
            actions_for=actions_for,
            addresses=addresses,
            is_changing=is_changing,
        )

    @pages.get("/launch")
    async def launch_form(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        return dashboard.render(request, "launch.html", choices=await launch_choices(signed.api), form=None)

    @pages.post("/launch")
    async def launch(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        try:
            await signed.api.post("compute", "/servers", launch_body(form))
        except APIError as refusal:
            choices = await launch_choices(signed.api)
            return dashboard.render(
                request,
                "launch.html",
                status=refusal.status,
                choices=choices,
                form=form,
                error=refusal.message,
            )
        return dashboard.redirect(request, "/project/instances/")

    @pages.get("/{server_id}")
    async def detail(request: Request, server_id: str) -> Response:
        signed = dashboard.signed_in(request)
        details = await server_details(signed.api, server_id)
        return dashboard.render(
            request, "instance.html", **details, actions_for=actions_for, addresses=addresses
        )

    @pages.get("/{server_id}/console")
    async def serial_console(request: Request, server_id: str) -> Response:
        signed = dashboard.signed_in(request)
        server = (await signed.api.get("compute", f"/servers/{server_id}"))["server"]
        body = {"remote_console": {"protocol": "serial", "type": "serial"}}
        console = await signed.api.post("compute", f"/servers/{server_id}/remote-consoles", body)
        return dashboard.render(
            request, "console.html", server=server, console_url=console["remote_console"]["url"]
        )

    @pages.get("/{server_id}/action/{name}")
    async def action_form(request: Request, server_id: str, name: str) -> Response:
        signed = dashboard.signed_in(request)
        action = ACTIONS.get(name)
        if action is None or not action.fields:
            raise APIError(404, f"There is no instance action {name!r}.")
        server = (await signed.api.get("compute", f"/servers/{server_id}"))["server"]
        choices = await launch_choices(signed.api) if action.fields in ("resize", "rebuild") else {}
        return dashboard.render(
            request, "instance_action.html", server=server, action=action, choices=choices
        )

    @pages.post("/{server_id}/act")
    async def act_from_menu(request: Request, server_id: str) -> Response:
        """The row menu's form: the button pressed names the action."""
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        return await perform(request, signed, server_id, form.get("action"), form)

    @pages.post("/{server_id}/action/{name}")
    async def act(request: Request, server_id: str, name: str) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        return await perform(request, signed, server_id, name, form)

    async def perform(request: Request, signed: SignedIn, server_id: str, name: str, form: Form) -> Response:
        action = ACTIONS.get(name)
        if action is None:
            raise APIError(404, f"There is no instance action {name!r}.")
        if action.body is None:
            await signed.api.delete("compute", f"/servers/{server_id}")
        else:
            await signed.api.post("compute", f"/servers/{server_id}/action", action.body(form))
        back = form.get("back")
        return dashboard.redirect(request, back if back.startswith("/project/") else "/project/instances/")

    return pages
