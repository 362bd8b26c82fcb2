"""Version discovery answers without a token; everything else behind get_context needs one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from overcast.api import versions
from overcast.api.app import create_app
from overcast.api.deps import get_context, get_settings
from overcast.config import Settings
from overcast.context import RequestContext

SETTINGS = Settings(public_url="https://cloud.example.org/")


def _image_router() -> APIRouter:
    """An image service as its engineer would write it, using the version helpers."""
    router = APIRouter()

    @router.get("")
    def image_versions(request: Request) -> dict[str, Any]:
        settings = get_settings(request)
        entry = versions.version_doc(
            "v2.16", versions.CURRENT, links=[versions.link(versions.service_url(settings, "image", "v2"))]
        )
        return {"versions": [entry]}

    @router.get("/v2/images")
    def list_images(context: RequestContext = Depends(get_context)) -> dict[str, Any]:
        return {"images": [], "project": context.project_id}

    return router


class _FakeAuth:
    """Stands in for the identity engineer's middleware: a token header becomes request.state.context."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            if b"x-auth-token" in headers:
                project = headers[b"x-auth-token"].decode()
                scope.setdefault("state", {})["context"] = RequestContext(project_id=project)
        await self.app(scope, receive, send)


def _app() -> FastAPI:
    app = create_app(SETTINGS, routers=[("/image", _image_router())])
    app.add_middleware(_FakeAuth)
    return app


def test_root_lists_every_service_relative_to_the_base_url() -> None:
    response = TestClient(_app()).get("/")
    assert response.status_code == 200
    services = {entry["type"]: entry["links"][0]["href"] for entry in response.json()["services"]}
    assert services == {
        root.service_type: "https://cloud.example.org" + root.path for root in versions.SERVICE_ROOTS
    }


def test_version_document_needs_no_token_but_resources_do() -> None:
    client = TestClient(_app())
    discovery = client.get("/image")
    assert discovery.status_code == 200
    assert discovery.json()["versions"][0]["links"] == [
        {"rel": "self", "href": "https://cloud.example.org/image/v2"}
    ]
    anonymous = client.get("/image/v2/images", headers={"Accept": "application/json"})
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "401 Unauthorized"
    authenticated = client.get("/image/v2/images", headers={"X-Auth-Token": "project-1"})
    assert authenticated.json() == {"images": [], "project": "project-1"}


def test_version_doc_with_microversions_has_the_nova_fields() -> None:
    document = versions.version_doc(
        "v2.1",
        versions.CURRENT,
        min_version="2.1",
        max_version="2.96",
        links=[versions.link("https://cloud.example.org/compute/v2.1/")],
        media_types=[versions.media_type("application/vnd.openstack.compute+json;version=2.1")],
    )
    assert document["version"] == "2.96"
    assert document["min_version"] == "2.1"
    assert document["media-types"] == [
        {"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}
    ]
    assert document["links"][0] == {"rel": "self", "href": "https://cloud.example.org/compute/v2.1/"}


def test_version_doc_without_microversions_omits_them() -> None:
    document = versions.version_doc("v3.14", versions.STABLE, links=[versions.link("http://x/identity/v3")])
    assert "version" not in document
    assert "min_version" not in document
    assert "media-types" not in document
    assert set(document) == {"id", "status", "updated", "links"}


def test_service_url_joins_parts() -> None:
    assert versions.service_url(SETTINGS, "volume", "v3", "/p1/") == "https://cloud.example.org/volume/v3/p1"
