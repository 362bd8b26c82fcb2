"""The Block Storage version table accounts for every microversion, and each version's volume fields
appear exactly from that version on (and admin-only ones only for admins)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from starlette.datastructures import Headers

from overcast.api.openstack.compute.microversion import APIVersion
from overcast.api.openstack.volume import version_history, views
from overcast.api.openstack.volume.microversion import (
    MAX_VERSION,
    MIN_VERSION,
    negotiate,
    requested_version_text,
)
from overcast.context import RequestContext
from overcast.errors import BadRequest, NotAcceptable

REPOSITORY = Path(__file__).resolve().parents[5]
MEMBER = RequestContext(user_id="u", project_id="p", roles=("member",))
ADMIN = RequestContext(user_id="a", project_id="admin", roles=("admin",), is_admin=True)


def test_every_version_up_to_the_maximum_is_accounted_for_once() -> None:
    versions = [change.version for change in version_history.HISTORY]
    assert versions == [APIVersion(3, minor) for minor in range(MIN_VERSION.minor, MAX_VERSION.minor + 1)]
    for change in version_history.HISTORY:
        assert change.summary
        if change.status == "implemented":
            assert (REPOSITORY / change.where).exists(), change


def test_negotiation() -> None:
    assert negotiate(None) == APIVersion(3, 0)
    assert negotiate("latest") == MAX_VERSION
    assert negotiate("3.44") == APIVersion(3, 44)
    with pytest.raises(NotAcceptable):
        negotiate("3.72")
    with pytest.raises(NotAcceptable):
        negotiate("2.0")
    with pytest.raises(BadRequest):
        negotiate("3.x")
    headers = Headers({"OpenStack-API-Version": "compute 2.10, volume 3.40"})
    assert requested_version_text(headers) == "3.40"


class _Request:
    """What views read of a request: the negotiated version, the base URL and the path's project."""

    def __init__(self, version: APIVersion) -> None:
        self.state = type("State", (), {"volume_api_version": version})()
        self.base_url = "http://cloud/"
        self.path_params: dict[str, str] = {}


RECORD: dict[str, Any] = {
    "id": "v", "name": "n", "status": "available", "group_id": None, "provider_id": "p-1",
    "shared_targets": False, "service_uuid": "s", "cluster_name": None, "volume_type_id": "t",
    "consumes_quota": True, "encryption_key_id": None, "os-vol-host-attr:host": "h@pool#pool",
    "os-vol-mig-status-attr:migstat": None, "os-vol-mig-status-attr:name_id": None, "migration_status": None,
    "_project_id": "p", "_host": "h",
}  # fmt: skip


@pytest.mark.parametrize(
    ("minor", "added"),
    [
        (12, "group_id"),
        (13, "group_id"),
        (47, "shared_targets"),
        (48, "shared_targets"),
        (48, "service_uuid"),
        (62, "volume_type_id"),
        (63, "volume_type_id"),
        (64, "consumes_quota"),
        (65, "consumes_quota"),
    ],
)
def test_each_field_appears_from_its_version(minor: int, added: str) -> None:
    shown = views.volume_detail(_Request(APIVersion(3, minor)), MEMBER, RECORD)  # type: ignore[arg-type]
    assert (added in shown) == (APIVersion(3, minor) >= views.SINCE[added])


def test_admin_only_fields() -> None:
    latest = _Request(MAX_VERSION)
    member = views.volume_detail(latest, MEMBER, RECORD)  # type: ignore[arg-type]
    admin = views.volume_detail(latest, ADMIN, RECORD)  # type: ignore[arg-type]
    for field in ("provider_id", "cluster_name", "os-vol-host-attr:host", "migration_status"):
        assert field not in member and field in admin
    assert not any(key.startswith("_") for key in admin)
    assert "encryption_key_id" not in admin  # shown (3.64) only for encrypted volumes
    below = views.volume_detail(_Request(APIVersion(3, 20)), ADMIN, RECORD)  # type: ignore[arg-type]
    assert "provider_id" not in below
