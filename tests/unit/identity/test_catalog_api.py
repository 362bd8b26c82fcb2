"""The writable catalog on a real database: services and endpoints made, changed and deleted, and
tokens' catalogs following them."""

from __future__ import annotations

from pathlib import Path

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import BadRequest, NotFound
from overcast.identity.bootstrap import bootstrap
from overcast.identity.passwords import PasswordHasher
from overcast.identity.service import IdentityService

HASHER = PasswordHasher(time_cost=1, memory_cost_kib=1024)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "data", listen="127.0.0.1:9999")


@pytest.fixture
def identity(settings: Settings, db: Database) -> IdentityService:
    bootstrap(settings, db, hasher=HASHER)
    return IdentityService(settings, db, hasher=HASHER)


def token_catalog(identity: IdentityService) -> dict[str, list[str]]:
    with identity.core.db.reader() as session:
        return {
            entry["type"]: [endpoint["url"] for endpoint in entry["endpoints"]]
            for entry in identity.core.catalog.for_token(session)
        }


def test_a_new_service_and_endpoint_join_tokens_catalogs_and_leave_with_the_service(
    identity: IdentityService, settings: Settings
) -> None:
    token_catalog(identity)  # loaded and cached before the change
    service = identity.catalog.create_service(
        {"type": "volumev2", "name": "cinderv2", "description": "blocks"}
    )
    assert (service["type"], service["name"], service["description"], service["enabled"]) == (
        "volumev2",
        "cinderv2",
        "blocks",
        True,
    )
    endpoint = identity.catalog.create_endpoint(
        {
            "service_id": service["id"],
            "interface": "public",
            "url": "http://x/v3",
            "region_id": settings.region,
        }
    )
    assert token_catalog(identity)["volumev2"] == ["http://x/v3"]
    identity.catalog.update_endpoint(endpoint["id"], {"url": "http://y/v3"})
    assert token_catalog(identity)["volumev2"] == ["http://y/v3"]
    identity.catalog.update_service(service["id"], {"enabled": False})
    assert "volumev2" not in token_catalog(identity)
    assert [s["enabled"] for s in identity.catalog.list_services("volumev2")] == [False]

    identity.catalog.delete_service(service["id"])
    with pytest.raises(NotFound):
        identity.catalog.get_endpoint(endpoint["id"])
    assert identity.catalog.list_services("volumev2") == []


def test_endpoints_name_a_real_service_and_region(identity: IdentityService) -> None:
    service = identity.catalog.create_service({"type": "dns"})
    with pytest.raises(NotFound):
        identity.catalog.create_endpoint({"service_id": "nope", "interface": "public", "url": "http://x"})
    with pytest.raises(BadRequest):
        identity.catalog.create_endpoint(
            {"service_id": service["id"], "interface": "public", "url": "http://x", "region_id": "nowhere"}
        )
    no_region = identity.catalog.create_endpoint(
        {"service_id": service["id"], "interface": "admin", "url": "http://x"}
    )
    assert no_region["region_id"] is None and no_region["interface"] == "admin"


def test_bootstrap_keeps_services_made_through_the_api(
    identity: IdentityService, settings: Settings, db: Database
) -> None:
    made = identity.catalog.create_service({"type": "object-store", "name": "swift"})
    bootstrap(settings, db, hasher=HASHER)
    assert identity.catalog.get_service(made["id"])["name"] == "swift"
