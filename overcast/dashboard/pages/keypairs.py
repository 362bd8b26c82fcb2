"""Key pairs: list, create (the private key downloadable once), import, delete."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from overcast.dashboard.client import APIError
from overcast.dashboard.web import Dashboard

# The last microversion at which Nova makes a key pair itself (2.92 takes only public keys).
GENERATING_VERSION = "compute 2.91"
# Nova's key pair names: what a download's file name may safely carry as it is.
_SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def router(dashboard: Dashboard) -> APIRouter:
    pages = APIRouter(prefix="/project/key_pairs")

    @pages.get("/")
    async def key_pair_list(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        body = await signed.api.get("compute", "/os-keypairs")
        keypairs = [entry["keypair"] for entry in body["keypairs"]]
        return dashboard.render(
            request, "keypairs.html", keypairs=keypairs, downloadable=sorted(signed.session.private_keys)
        )

    @pages.get("/create")
    async def create_form(request: Request) -> Response:
        dashboard.signed_in(request)
        return dashboard.render(request, "keypair_form.html", error="", name="", public_key="")

    @pages.post("/create")
    async def create(request: Request) -> Response:
        signed = dashboard.signed_in(request)
        form = await dashboard.form(request, signed)
        name, public_key = form.get("name"), form.get("public_key")
        keypair: dict[str, str] = {"name": name, "type": form.get("type", "ssh") or "ssh"}
        try:
            if public_key:
                keypair["public_key"] = public_key
                await signed.api.post("compute", "/os-keypairs", {"keypair": keypair})
            else:
                made = await signed.api.post(
                    "compute", "/os-keypairs", {"keypair": keypair}, GENERATING_VERSION
                )
                dashboard.sessions.keep_private_key(signed.session_id, name, made["keypair"]["private_key"])
        except APIError as refusal:
            return dashboard.render(
                request,
                "keypair_form.html",
                status=refusal.status,
                error=refusal.message,
                name=name,
                public_key=public_key,
            )
        return dashboard.redirect(request, "/project/key_pairs/")

    @pages.get("/{name}/private-key")
    async def download_private_key(request: Request, name: str) -> Response:
        """The private key, once: the cloud never had it stored, and the session forgets it now."""
        signed = dashboard.signed_in(request)
        private_key = dashboard.sessions.take_private_key(signed.session_id, name)
        if private_key is None:
            raise APIError(404, f"The private key of {name} was downloaded already, or never made here.")
        file_name = f"{name}.pem" if _SAFE_FILE_NAME.fullmatch(name) else "private-key.pem"
        headers = {"Content-Disposition": f'attachment; filename="{file_name}"', "Cache-Control": "no-store"}
        return Response(private_key, media_type="application/x-pem-file", headers=headers)

    @pages.post("/{name}/delete")
    async def delete(request: Request, name: str) -> Response:
        signed = dashboard.signed_in(request)
        await dashboard.form(request, signed)
        await signed.api.delete("compute", f"/os-keypairs/{name}")
        dashboard.sessions.take_private_key(signed.session_id, name)
        return dashboard.redirect(request, "/project/key_pairs/")

    return pages
