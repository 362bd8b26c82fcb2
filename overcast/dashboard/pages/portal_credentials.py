"""API credentials: application credentials and EC2 keys of the signed-in user, made through Keystone.

A secret is shown once, on the page that answers its creation, with a ready clouds.yaml and environment
file as downloads embedded in that page (data: links): the dashboard keeps no copy, and Keystone shows
an application credential's secret only in its creation's answer."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError, Login, endpoint
from overcast.dashboard.web import Dashboard, SignedIn

CLOUD_NAME = "overcast"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class Download:
    file_name: str
    label: str
    href: str


def _data_url(media_type: str, text: str) -> str:
    return f"data:{media_type};base64," + base64.b64encode(text.encode()).decode()


def _region(login: Login) -> str:
    for entry in login.catalog:
        if entry.get("type") == "identity":
            for candidate in entry.get("endpoints", []):
                if candidate.get("interface") == "public":
                    return str(candidate.get("region_id") or candidate.get("region") or "RegionOne")
    return "RegionOne"


def _quoted(value: str) -> str:
    """A shell or YAML single-quoted string (Keystone's names and secrets may hold any character)."""
    return "'" + value.replace("'", "'\"'\"'") + "'"


def _comment(value: str) -> str:
    """Text for a comment line: a name with a line break must not start a command of its own."""
    return " ".join(value.split())


def _yaml_quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def application_credential_files(login: Login, credential: dict[str, Any]) -> list[Download]:
    auth_url = endpoint(login.catalog, "identity") or ""
    region = _region(login)
    clouds_yaml = (
        "clouds:\n"
        f"  {CLOUD_NAME}:\n"
        "    auth_type: v3applicationcredential\n"
        "    auth:\n"
        f"      auth_url: {_yaml_quoted(auth_url)}\n"
        f"      application_credential_id: {_yaml_quoted(credential['id'])}\n"
        f"      application_credential_secret: {_yaml_quoted(credential['secret'])}\n"
        f"    region_name: {_yaml_quoted(region)}\n"
        "    interface: public\n"
        "    identity_api_version: 3\n"
    )
    openrc = (
        f"# Application credential {_comment(credential['name'])} of {_comment(login.user_name)}\n"
        "export OS_AUTH_TYPE=v3applicationcredential\n"
        f"export OS_AUTH_URL={_quoted(auth_url)}\n"
        f"export OS_APPLICATION_CREDENTIAL_ID={_quoted(credential['id'])}\n"
        f"export OS_APPLICATION_CREDENTIAL_SECRET={_quoted(credential['secret'])}\n"
        f"export OS_REGION_NAME={_quoted(region)}\n"
        "export OS_INTERFACE=public\n"
        "export OS_IDENTITY_API_VERSION=3\n"
    )
    name = credential["name"] if _SAFE_NAME.fullmatch(credential["name"]) else "credential"
    return [
        Download("clouds.yaml", "clouds.yaml", _data_url("application/yaml", clouds_yaml)),
        Download(f"{name}-openrc.sh", "openrc file", _data_url("text/x-shellscript", openrc)),
    ]


def ec2_files(login: Login, credential: dict[str, Any]) -> list[Download]:
    ec2_url = endpoint(login.catalog, "ec2") or ""
    environment = (
        f"# EC2 key {_comment(credential['access'])} of {_comment(login.user_name)}"
        f" in project {_comment(login.project_name or '')}\n"
        f"export AWS_ACCESS_KEY_ID={_quoted(credential['access'])}\n"
        f"export AWS_SECRET_ACCESS_KEY={_quoted(credential['secret'])}\n"
        f"export AWS_DEFAULT_REGION={_quoted(_region(login))}\n"
        f"export AWS_ENDPOINT_URL_EC2={_quoted(ec2_url)}\n"
    )
    return [Download("ec2rc.sh", "environment file", _data_url("text/x-shellscript", environment))]


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/account/credentials")

    async def credentials_page(
        request: Request, signed: SignedIn, status: int = 200, error: str = "", **made: Any
    ) -> Response:
        user_id = signed.session.login.user_id
        application = await signed.api.get("identity", f"/users/{user_id}/application_credentials")
        ec2 = await signed.api.get("identity", f"/users/{user_id}/credentials/OS-EC2")
        response = dashboard.render(
            request, "portal_credentials.html", status=status, error=error,
            application_credentials=application["application_credentials"],
            ec2_credentials=ec2["credentials"], made=made,
        )  # fmt: skip
        # The answer may hold a secret: no cache keeps it.
        response.headers["Cache-Control"] = "no-store"
        return response

    @pages.get("/")
    async def credentials(request: Request) -> Response:
        return await credentials_page(request, dashboard.signed_in(request))

    @pages.post("/application")
    async def create_application_credential(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        body: dict[str, Any] = {"name": form.get("name")}
        if form.get("description"):
            body["description"] = form.get("description")
        if form.get("expires_at"):
            body["expires_at"] = form.get("expires_at")
        user_id = signed.session.login.user_id
        try:
            made = await signed.api.post(
                "identity", f"/users/{user_id}/application_credentials", {"application_credential": body}
            )
        except APIError as refusal:
            return await credentials_page(request, signed, refusal.status, error=refusal.message)
        credential = made["application_credential"]
        return await credentials_page(
            request, signed, status=201, kind="Application credential", name=credential["name"],
            identifier=credential["id"], secret=credential["secret"],
            downloads=application_credential_files(signed.session.login, credential),
        )  # fmt: skip

    @pages.post("/application/{credential_id}/delete")
    async def delete_application_credential(request: Request, credential_id: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        user_id = signed.session.login.user_id
        await signed.api.delete("identity", f"/users/{user_id}/application_credentials/{credential_id}")
        return dashboard.redirect(request, "/account/credentials/")

    @pages.post("/ec2")
    async def create_ec2_credential(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        login = signed.session.login
        try:
            made = await signed.api.post(
                "identity", f"/users/{login.user_id}/credentials/OS-EC2", {"tenant_id": login.project_id}
            )
        except APIError as refusal:
            return await credentials_page(request, signed, refusal.status, error=refusal.message)
        credential = made["credential"]
        return await credentials_page(
            request, signed, status=201, kind="EC2 key", name=credential["access"],
            identifier=credential["access"], secret=credential["secret"],
            downloads=ec2_files(login, credential),
        )  # fmt: skip

    @pages.post("/ec2/{access}/delete")
    async def delete_ec2_credential(request: Request, access: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        user_id = signed.session.login.user_id
        await signed.api.delete("identity", f"/users/{user_id}/credentials/OS-EC2/{access}")
        return dashboard.redirect(request, "/account/credentials/")

    return pages
