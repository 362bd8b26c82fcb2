"""Endpoint groups and project endpoints (OS-EP-FILTER), unified limits, the policies API and the
federation resources, on a real database through the identity service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from overcast.config import Settings, load_settings
from overcast.db import Database
from overcast.errors import BadRequest, Conflict, Forbidden, NotFound
from overcast.identity.bootstrap import bootstrap
from overcast.identity.endpoint_filter import filter_catalog
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


def service_id(identity: IdentityService, service_type: str) -> str:
    return str(identity.catalog.list_services(service_type)[0]["id"])


def catalog_types(identity: IdentityService, project_id: str) -> set[str]:
    with identity.core.db.reader() as session:
        catalog = filter_catalog(session, project_id, identity.core.catalog.for_token(session, project_id))
    return {entry["type"] for entry in catalog}


def test_project_endpoints_limit_the_projects_catalog(identity: IdentityService) -> None:
    project = identity.api.create_project({"name": "filtered", "domain_id": "default"})["id"]
    everything = catalog_types(identity, project)
    assert {"compute", "image", "identity"} <= everything
    compute = identity.catalog.list_endpoints(service_id=service_id(identity, "compute"), interface="public")[
        0
    ]
    identity.endpoint_filter.associate_endpoint(project, compute["id"])
    identity.endpoint_filter.check_endpoint(project, compute["id"])
    assert catalog_types(identity, project) == {"compute"}
    assert [e["id"] for e in identity.endpoint_filter.project_endpoints(project)] == [compute["id"]]
    assert [p["id"] for p in identity.endpoint_filter.endpoint_projects(compute["id"])] == [project]

    group = identity.endpoint_filter.create_group(
        {"name": "images", "filters": {"service_id": service_id(identity, "image")}}
    )
    identity.endpoint_filter.associate_group(group["id"], project)
    assert catalog_types(identity, project) == {"compute", "image"}
    assert {e["interface"] for e in identity.endpoint_filter.group_endpoints(group["id"])} == {
        "public",
        "internal",
    }
    identity.endpoint_filter.dissociate_endpoint(project, compute["id"])
    identity.endpoint_filter.delete_group(group["id"])
    assert catalog_types(identity, project) == everything
    with pytest.raises(BadRequest):
        identity.endpoint_filter.create_group({"name": "bad", "filters": {"colour": "blue"}})
    with pytest.raises(NotFound):
        identity.endpoint_filter.check_endpoint(project, compute["id"])


def test_registered_and_project_limits(identity: IdentityService, settings: Settings) -> None:
    compute = service_id(identity, "compute")
    [cores] = identity.limits.create_registered(
        [{"service_id": compute, "resource_name": "cores", "default_limit": 20, "region_id": settings.region}]
    )
    assert (cores["default_limit"], cores["region_id"]) == (20, settings.region)
    with pytest.raises(Conflict):
        identity.limits.create_registered(
            [
                {
                    "service_id": compute,
                    "resource_name": "cores",
                    "default_limit": 5,
                    "region_id": settings.region,
                }
            ]
        )
    with pytest.raises(BadRequest):
        identity.limits.create_registered(
            [{"service_id": compute, "resource_name": "ram", "default_limit": "many"}]
        )
    project = identity.api.create_project({"name": "limited", "domain_id": "default"})["id"]
    with pytest.raises(Forbidden):
        identity.limits.create_limits(
            [{"project_id": project, "service_id": compute, "resource_name": "ram", "resource_limit": 1}]
        )
    [limit] = identity.limits.create_limits(
        [
            {
                "project_id": project,
                "service_id": compute,
                "region_id": settings.region,
                "resource_name": "cores",
                "resource_limit": 8,
            }
        ]
    )
    assert (limit["project_id"], limit["domain_id"], limit["resource_limit"]) == (project, None, 8)
    assert identity.limits.update_limit(limit["id"], {"resource_limit": 16})["resource_limit"] == 16
    assert [row["id"] for row in identity.limits.list_limits({"project_id": project})] == [limit["id"]]
    with pytest.raises(Forbidden):
        identity.limits.delete_registered(cores["id"])
    identity.limits.delete_limit(limit["id"])
    identity.limits.delete_registered(cores["id"])
    assert identity.limits.list_registered({}) == []


def test_policies_are_stored_as_given(identity: IdentityService) -> None:
    made = identity.policies.create({"type": "application/json", "blob": '{"a": "b"}', "owner": "ops"})
    assert (made["type"], made["blob"], made["owner"]) == ("application/json", '{"a": "b"}', "ops")
    assert identity.policies.update(made["id"], {"blob": "{}"})["blob"] == "{}"
    assert [p["id"] for p in identity.policies.list_policies("application/json")] == [made["id"]]
    with pytest.raises(BadRequest):
        identity.policies.create({"type": "application/json"})
    identity.policies.delete(made["id"])
    with pytest.raises(NotFound):
        identity.policies.get(made["id"])


def test_federation_resources(identity: IdentityService) -> None:
    fed = identity.federation
    idp = fed.create_idp("acme-idp", {"remote_ids": ["https://idp.example/saml"], "enabled": True})
    assert (idp["id"], idp["enabled"], idp["remote_ids"]) == ("acme-idp", True, ["https://idp.example/saml"])
    with pytest.raises(Conflict):
        fed.create_idp("other-idp", {"remote_ids": ["https://idp.example/saml"]})
    rules: list[dict[str, Any]] = [
        {"local": [{"user": {"name": "{0}"}}], "remote": [{"type": "REMOTE_USER"}]}
    ]
    fed.create_mapping("acme-mapping", {"rules": rules})
    with pytest.raises(BadRequest):
        fed.create_mapping("broken", {"rules": [{"local": []}]})
    with pytest.raises(NotFound):
        fed.create_protocol("acme-idp", "saml2", {"mapping_id": "no-such-mapping"})
    protocol = fed.create_protocol("acme-idp", "saml2", {"mapping_id": "acme-mapping"})
    assert protocol == {
        "id": "saml2",
        "idp_id": "acme-idp",
        "mapping_id": "acme-mapping",
        "remote_id_attribute": None,
    }
    sp = fed.create_sp(
        "partner", {"auth_url": "https://sp.example/v3/auth", "sp_url": "https://sp.example/ECP"}
    )
    assert (sp["enabled"], sp["relay_state_prefix"]) == (False, "ss:mem:")
    with pytest.raises(BadRequest):
        fed.create_sp("bad", {"auth_url": "ftp://x", "sp_url": "https://x"})
    fed.delete_idp("acme-idp")
    with pytest.raises(NotFound):
        fed.get_protocol("acme-idp", "saml2")


def test_domain_configuration_is_kept_by_group_and_option_without_secrets(identity: IdentityService) -> None:
    configs = identity.domain_configs
    domain = identity.api.create_domain({"name": "configured"})["id"]
    with pytest.raises(NotFound):
        configs.get(domain)
    config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://a", "password": "secret"}}
    shown, created = configs.put(domain, config)
    assert created and shown == {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://a"}}
    assert configs.put(domain, config)[1] is False
    assert configs.update(domain, {"url": "ldap://b"}, "ldap", "url")["ldap"]["url"] == "ldap://b"
    assert configs.get(domain, "ldap", "url") == {"url": "ldap://b"}
    with pytest.raises(Forbidden):
        configs.put(domain, {"catalog": {"driver": "sql"}})
    with pytest.raises(Forbidden):
        configs.update(domain, {"identity": {"colour": "blue"}})
    configs.delete(domain, "ldap", "url")
    with pytest.raises(NotFound):
        configs.get(domain, "ldap", "url")
    configs.delete(domain)
    with pytest.raises(NotFound):
        configs.get(domain)
    assert configs.defaults("identity", "driver") == {"driver": "sql"}
