"""`overcast manage plan|account|signup ...`: the operator's side of the portal, as a client of the running
cloud's /portal/v1 (the same checks, and suspend reaches the compute hosts through the running services),
logged in as the bootstrap admin of <data dir>/clouds.yaml. Every command prints JSON."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import httpx

from overcast import errors
from overcast.config import Settings

ADMIN_CLOUD = "overcast-admin"


def add_commands(manage: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    def group(name: str, help: str) -> argparse._SubParsersAction:
        sub = manage.add_parser(name, help=help, parents=[common])
        return sub.add_subparsers(dest="portal_action", required=True)

    def command(
        actions: argparse._SubParsersAction, group_name: str, name: str, help: str
    ) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = actions.add_parser(name, help=help, parents=[common])
        sub.set_defaults(handler="portal", portal_group=group_name)
        return sub

    plans = group("plan", "the portal's plans: quotas and billing terms of a sign-up")
    command(plans, "plan", "list", "every plan")
    command(plans, "plan", "show", "one plan").add_argument("name")
    for name in ("create", "set"):
        changed = command(plans, "plan", name, f"{name} a plan" if name == "create" else "change a plan")
        changed.add_argument("name")
        changed.add_argument("--description")
        changed.add_argument("--price-list", help="the name of a billing price list")
        changed.add_argument("--mode", choices=("prepaid", "postpaid"))
        changed.add_argument("--credit-limit", help="a decimal, or 'none'")
        changed.add_argument("--trial-credit", help="a decimal, or 'none'")
        changed.add_argument("--quota", action="append", default=[], metavar="NAME=LIMIT", help="repeatable")
        changed.add_argument("--default", action=argparse.BooleanOptionalAction, default=None)
    command(plans, "plan", "delete", "delete a plan").add_argument("name")

    accounts = group("account", "customer accounts: list, suspend, resume")
    command(accounts, "account", "list", "every account").add_argument(
        "--status", choices=("active", "suspended")
    )
    command(accounts, "account", "show", "one account").add_argument("account")
    suspend = command(accounts, "account", "suspend", "stop its servers and its users' logins")
    suspend.add_argument("account")
    suspend.add_argument("--reason", default="")
    command(accounts, "account", "resume", "undo the suspension").add_argument("account")

    signup = group("signup", "the public sign-up: its switch and invitation codes")
    switch = command(signup, "signup", "settings", "show (or change) whether sign-up is open")
    switch.add_argument("--enabled", action=argparse.BooleanOptionalAction, default=None)
    switch.add_argument("--invitation-only", action=argparse.BooleanOptionalAction, default=None)
    codes = command(signup, "signup", "codes", "make single-use invitation codes")
    codes.add_argument("--count", type=int, default=1)
    codes.add_argument("--plan")


def _admin_login(settings: Settings) -> tuple[str, str]:
    """The bootstrap admin's (user, password) from clouds.yaml, which bootstrap writes with JSON scalars."""
    path = settings.data_dir / "clouds.yaml"
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise errors.NotFound(f"No admin credentials at {path}: {exc.strerror}.") from None
    entry = text.partition(f"  {ADMIN_CLOUD}:\n")[2]
    values = dict(re.findall(r"^      (username|password): (\".*\")$", entry, re.M)[:2])
    if set(values) != {"username", "password"}:
        raise errors.NotFound(f"No {ADMIN_CLOUD} entry in {path}.")
    return json.loads(values["username"]), json.loads(values["password"])


def _token(client: httpx.Client, base: str, user: str, password: str) -> str:
    domain = {"name": "Default"}
    login = {"user": {"name": user, "domain": domain, "password": password}}
    body = {"auth": {
        "identity": {"methods": ["password"], "password": login},
        "scope": {"project": {"name": user, "domain": domain}},
    }}  # fmt: skip
    response = client.post(f"{base}/identity/v3/auth/tokens", json=body)
    if response.status_code != 201:
        raise errors.Unauthorized(f"Could not log in as {user}: HTTP {response.status_code}.")
    return response.headers["X-Subject-Token"]


def _plan_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for field in ("description", "price_list", "mode"):
        if getattr(args, field) is not None:
            body[field] = getattr(args, field)
    for field in ("credit_limit", "trial_credit"):
        value = getattr(args, field)
        if value is not None:
            body[field] = None if value.lower() == "none" else value
    if args.quota:
        quotas = {}
        for item in args.quota:
            name, sep, limit = item.partition("=")
            if not sep or not limit.lstrip("-").isdigit():
                raise errors.BadRequest(f"Invalid --quota {item!r}: NAME=LIMIT, e.g. instances=10.")
            quotas[name] = int(limit)
        body["quotas"] = quotas
    if args.default is not None:
        body["default"] = args.default
    return body


def _request(args: argparse.Namespace) -> tuple[str, str, Any]:
    group, action = args.portal_group, args.portal_action
    if group == "plan":
        if action == "list":
            return "GET", "/plans", None
        if action == "create":
            return "POST", "/plans", {"plan": {"name": args.name, **_plan_body(args)}}
        if action == "set":
            return "PATCH", f"/plans/{args.name}", {"plan": _plan_body(args)}
        return ("GET" if action == "show" else "DELETE"), f"/plans/{args.name}", None
    if group == "account":
        if action == "list":
            return "GET", "/accounts" + (f"?status={args.status}" if args.status else ""), None
        if action == "show":
            return "GET", f"/accounts/{args.account}", None
        body = {"suspend": {"reason": args.reason}} if action == "suspend" else {"resume": None}
        return "POST", f"/accounts/{args.account}/action", body
    if action == "codes":
        return (
            "POST",
            "/invitation-codes",
            {"count": args.count, **({"plan": args.plan} if args.plan else {})},
        )
    changes = {
        name: value
        for name, value in (("enabled", args.enabled), ("invitation_only", args.invitation_only))
        if value is not None
    }
    return ("PUT", "/settings", {"signup": changes}) if changes else ("GET", "/settings", None)


def run(settings: Settings, args: argparse.Namespace) -> int:
    method, path, body = _request(args)
    base = settings.base_url
    with httpx.Client(timeout=120) as client:
        token = _token(client, base, *_admin_login(settings))
        response = client.request(
            method, f"{base}/portal/v1{path}", json=body, headers={"X-Auth-Token": token}
        )
    if response.status_code >= 400:
        try:
            message = response.json()["error"]["message"]
        except (ValueError, KeyError, TypeError):
            message = response.text
        raise errors.OvercastError(f"HTTP {response.status_code}: {message}")
    print(json.dumps(response.json() if response.content else {}, indent=2, sort_keys=True))
    return 0
